"""System checks of djira's admin console (registered by ``djira.apps`` when the admin is
installed; tagged ``djira`` so they also run at server start, see ``djira.checks``)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

HTMX_MIDDLEWARE = "django_htmx.middleware.HtmxMiddleware"


def _has_middleware(path: str) -> bool:
    """Whether ``MIDDLEWARE`` holds ``path`` or a subclass of it (as Django's admin checks)."""
    target = import_string(path)
    for entry in settings.MIDDLEWARE:
        try:
            middleware = import_string(entry)
        except ImportError:
            continue  # Django reports broken MIDDLEWARE entries itself
        if isinstance(middleware, type) and issubclass(middleware, target):
            return True
    return False


@register("djira")
def check_console(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The console needs django-htmx, and its middleware: without ``request.htmx`` a live
    part polling after the session ended gets the login page swapped into a table."""
    if not apps.is_installed("django.contrib.admin"):
        return []
    if not apps.is_installed("django_htmx"):
        return [
            Warning(
                "djira's admin console is off: it needs 'django_htmx' in INSTALLED_APPS.",
                hint=f"Add 'django_htmx' to INSTALLED_APPS and '{HTMX_MIDDLEWARE}' to "
                "MIDDLEWARE to enable it.",
                id="djira.W101",
            )
        ]
    if not _has_middleware(HTMX_MIDDLEWARE):
        return [
            Error(
                f"djira's admin console is on but '{HTMX_MIDDLEWARE}' is not in MIDDLEWARE: "
                "once a session ends, its live tables get the login page swapped in.",
                hint=f"Add '{HTMX_MIDDLEWARE}' to MIDDLEWARE (after "
                "AuthenticationMiddleware), or remove 'django_htmx' to turn the console off.",
                id="djira.E101",
            )
        ]
    return []


ACT_AS_AUTHENTICATION = "djira.admin.actas.ActAsAuthentication"


@register("djira")
def check_act_as(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``INSPECTOR_ACT_AS`` on needs ``ActAsAuthentication`` first in the authentication
    classes: after another class, the superuser's own session would win and the inspector
    would silently send as them."""
    user = getattr(settings, "DJIRA_SETTINGS", None)
    if not isinstance(user, dict) or user.get("INSPECTOR_ACT_AS") is not True:
        return []
    classes = user.get("AUTHENTICATION_CLASSES") or []
    if list(classes)[:1] == [ACT_AS_AUTHENTICATION]:
        return []
    return [
        Warning(
            "DJIRA_SETTINGS['INSPECTOR_ACT_AS'] is on, but AUTHENTICATION_CLASSES does not start "
            f"with '{ACT_AS_AUTHENTICATION}': the inspector cannot act as another user.",
            hint=f"Put '{ACT_AS_AUTHENTICATION}' first in "
            "DJIRA_SETTINGS['AUTHENTICATION_CLASSES'].",
            id="djira.W102",
        )
    ]
