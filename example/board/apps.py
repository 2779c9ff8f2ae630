from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "board"
    verbose_name = "Task board"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The dispatcher's receivers connect on import (djira imports hooks.py by itself).
        from . import signals  # noqa: F401
