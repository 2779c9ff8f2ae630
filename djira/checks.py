"""System checks for djira's settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    errors: list[Any] = []
    user = getattr(settings, "DJIRA_SETTINGS", {}) or {}
    if not isinstance(user, dict):
        return [Error("DJIRA_SETTINGS must be a dict.", id="djira.E001")]
    from djira.settings import DEFAULTS

    for key in user:
        if key not in DEFAULTS:
            errors.append(
                Warning(
                    f"Unknown DJIRA_SETTINGS key '{key}'.",
                    hint="Check its spelling.",
                    id="djira.W001",
                )
            )
    if user.get("CORS_ALLOWED_ORIGINS") == "*":
        errors.append(
            Warning(
                "DJIRA_SETTINGS['CORS_ALLOWED_ORIGINS'] is '*': any site can open sockets "
                "with your users' session cookies.",
                hint="List your front-end origins instead.",
                id="djira.W002",
            )
        )
    from django.apps import apps

    if apps.is_installed("django.contrib.admin") and not apps.is_installed("django_htmx"):
        errors.append(
            Warning(
                "djira's admin console is off: it needs 'django_htmx' in INSTALLED_APPS.",
                hint="Add 'django_htmx' and django_htmx.middleware.HtmxMiddleware to enable it.",
                id="djira.W101",
            )
        )
    if "rest_framework" not in settings.INSTALLED_APPS:
        errors.append(Error("djira needs 'rest_framework' in INSTALLED_APPS.", id="djira.E002"))
    return errors
