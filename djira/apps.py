from __future__ import annotations

from django.apps import AppConfig, apps
from django.utils.module_loading import autodiscover_modules


class DJiraConfig(AppConfig):
    """djira's app: ``"djira.apps.DJiraConfig"`` in ``INSTALLED_APPS``."""

    name = "djira"
    label = "djira"
    verbose_name = "djira"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from djira import checks  # noqa: F401 - registers the system checks
        from djira.management import devserver  # noqa: F401 - runserver's check (W201)
        from djira.telemetry import checks as telemetry_checks  # noqa: F401 - E030, E031

        if apps.is_installed("django.contrib.admin"):
            from djira.admin import checks as console_checks  # noqa: F401 - the console's

        # Import every app's hooks.py now, so observers declared on hooks connect their
        # signals in every process (web, shell, worker), not only where a consumer starts.
        autodiscover_modules("hooks")
