"""``manage.py runserver``, serving djira: Socket.IO, Django and static files over ASGI.

Django's command with the same arguments, checks, autoreloader and start-up lines; the
bound socket is served by uvicorn with ``settings.ASGI_APPLICATION`` (djira.management.
devserver). It takes over from ``django.contrib.staticfiles``' command when djira's app is
listed before that one in ``INSTALLED_APPS`` (``djira.W201`` otherwise).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.management.commands.runserver import (
    Command as StaticfilesRunserverCommand,
)
from django.urls import NoReverseMatch, reverse

from djira.management.devserver import ASGIDevServer, get_runserver_application, serves_djira
from djira.settings import jira_settings


class Command(StaticfilesRunserverCommand):
    help = (
        "Starts a development server for Django and djira's Socket.IO (ASGI, under uvicorn), "
        "serving static files under DEBUG."
    )
    server_cls = ASGIDevServer
    notes: list[str]

    def get_handler(self, *args: Any, **options: Any) -> Any:
        """The project's ASGI application (not Django's WSGI handler)."""
        application, note = get_runserver_application()
        self.notes = [note] if note else []
        if serves_djira(application):
            self.notes.append(self.djira_urls())
        # djira's application serves static files itself under DEBUG (as runserver does);
        # --insecure asks for them with DEBUG off too.
        if not options["use_static_handler"] and settings.DEBUG and serves_djira(application):
            self.notes.append(
                "--nostatic: djira's application serves static files under DEBUG itself; "
                "get_asgi_application(static_files=False) in your asgi.py turns that off."
            )
        if (
            options["use_static_handler"]
            and options["insecure_serving"]
            and not settings.DEBUG
            and apps.is_installed("django.contrib.staticfiles")
        ):
            from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

            application = ASGIStaticFilesHandler(application)
        return application

    def on_bind(self, server_port: int) -> None:
        """Django's start-up lines, then what djira adds."""
        super().on_bind(server_port)
        for note in getattr(self, "notes", []):
            self.stdout.write(note)

    def djira_urls(self) -> str:
        path = jira_settings.SOCKETIO_PATH.strip("/")
        lines = f"djira: Socket.IO at /{path}/"
        if apps.is_installed("django.contrib.admin"):
            # NoReverseMatch: the admin is installed but not routed.
            with contextlib.suppress(NoReverseMatch):
                lines += f", the console at {reverse('admin:index')}djira/"
        health = jira_settings.HEALTH_PATH
        if health:
            lines += f", health at /{health.strip('/')}/ready"
        return lines + "."
