"""System checks of the live admin (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Error, Warning, register

from djira.admin.live import registry

APP = "djira.admin.live"


@register("djira")
def check_live_admin_app(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``LIVE_ADMIN`` needs the app, after ``django.contrib.admin`` (its ``ready`` runs then)."""
    from djira.settings import jira_settings

    if not jira_settings.LIVE_ADMIN:
        return []
    installed = [getattr(apps.get_app_config(c.label), "name", "") for c in apps.get_app_configs()]
    if APP not in installed:
        return [
            Error(
                "DJIRA_SETTINGS['LIVE_ADMIN'] is on but no admin can be made live.",
                hint=f"Add '{APP}' to INSTALLED_APPS, after 'django.contrib.admin'.",
                id="djira.E120",
            )
        ]
    if "django.contrib.admin" in installed and installed.index(APP) < installed.index(
        "django.contrib.admin"
    ):
        return [
            Error(
                f"'{APP}' is listed before 'django.contrib.admin' in INSTALLED_APPS: it runs "
                "before the admins are registered, and makes none of them live.",
                hint=f"Move '{APP}' after 'django.contrib.admin' in INSTALLED_APPS.",
                id="djira.E121",
            )
        ]
    return []


@register("djira")
def check_live_partitions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A live admin whose ``get_queryset`` hides rows should partition its rooms."""
    from django.contrib.admin import ModelAdmin

    found: list[CheckMessage] = []
    for label, model_admin in sorted(registry.admins.items()):
        own_queryset = type(model_admin).get_queryset is not ModelAdmin.get_queryset
        if own_queryset and not registry.partitions(model_admin):
            found.append(
                Warning(
                    f"{type(model_admin).__qualname__} ({label}) overrides get_queryset() but "
                    "not get_live_rooms(): every user who may view the model is told the "
                    "primary key of each changed row, even rows their list hides (the rows "
                    "themselves are rendered only for those who may see them).",
                    hint="Override get_live_rooms(obj) and get_live_subscribing_rooms(request) "
                    "so that rooms partition the rows as get_queryset() does (docs/admin.md, "
                    "'Live admin pages'), or silence djira.W120 if primary keys are not secret.",
                    obj=type(model_admin),
                    id="djira.W120",
                )
            )
    return found
