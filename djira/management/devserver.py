"""What ``manage.py runserver`` serves when djira is installed: the project's ASGI application.

Django's own ``runserver`` speaks WSGI, which cannot hold a websocket: it answers
``/socket.io/`` with a 404. djira's ``runserver`` (``djira.management.commands.runserver``)
keeps everything of Django's command (arguments, system checks, migration warning,
autoreloader, start-up lines, error messages) and changes one thing: the server that the
bound socket is handed to. ``ASGIDevServer`` is the ``server_cls`` Django's command binds;
instead of serving WSGI on that socket, it runs uvicorn on it with the ASGI application.

Django picks a command from the first app in ``INSTALLED_APPS`` that has it, so djira's app
must come before ``django.contrib.staticfiles`` (whose ``runserver`` overrides Django's):
``check_runserver`` (``djira.W201``) says so when it does not, as Channels asks of ``daphne``.
"""

from __future__ import annotations

import logging
import os
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.core.management import find_commands
from django.core.servers.basehttp import WSGIServer
from django.utils.module_loading import import_string

APP = "djira.apps.DJiraConfig"

# Django's development server logs each request through this logger, formatted by
# ``django.utils.log.ServerFormatter`` (time, request line, status, colours by status).
server_logger = logging.getLogger("django.server")


def runserver_provider() -> str | None:
    """The name of the installed app whose ``runserver`` command ``manage.py`` runs.

    Django looks for commands in each app's ``management/commands`` and lets the app listed
    first win (``django.core.management.get_commands``); ``None`` means Django's own.
    """
    for app_config in apps.get_app_configs():
        if "runserver" in find_commands(os.path.join(app_config.path, "management")):
            return app_config.name
    return None


@register("djira")
def check_runserver(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Under ``DEBUG``, ``manage.py runserver`` should be djira's, or it serves no sockets."""
    if not settings.DEBUG:
        return []  # runserver is a development server: production settings never run it
    provider = runserver_provider()
    if provider in ("djira", None):
        return []
    return [
        Warning(
            f"'manage.py runserver' comes from {provider}, not djira: it serves no "
            "Socket.IO (clients get 404 on /socket.io/).",
            hint=f"List '{APP}' before '{provider}' in INSTALLED_APPS (djira's runserver "
            "serves static files as well), or serve your ASGI application with uvicorn.",
            id="djira.W201",
        )
    ]


def get_runserver_application() -> tuple[Any, str | None]:
    """The application ``runserver`` serves, and a note for its start-up output.

    ``settings.ASGI_APPLICATION`` when set (the object your ASGI server serves too), else
    djira's default application, ``djira.asgi.get_asgi_application()``.
    """
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        from djira.asgi import get_asgi_application as djira_application

        return djira_application(), (
            "ASGI_APPLICATION is not set: serving djira.asgi.get_asgi_application() "
            "(Django and every installed app's hooks). To serve your asgi.py, as uvicorn "
            "does, set ASGI_APPLICATION = '<project>.asgi.application'."
        )
    try:
        application = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"ASGI application '{path}' could not be loaded; Error importing module."
        ) from exc
    if not serves_djira(application):
        return application, (
            f"ASGI_APPLICATION '{path}' is not built by djira.asgi.get_asgi_application(): "
            "Socket.IO clients may get 404 on /socket.io/ (docs/quickstart.md, step 4)."
        )
    return application, None


def serves_djira(application: Any) -> bool:
    """Whether ``application`` is djira's, or wraps it (ASGI middleware keep ``app``)."""
    from djira.asgi import FrameGuard

    for _ in range(10):  # a bounded walk down the usual attribute of ASGI middleware
        if isinstance(application, FrameGuard):
            return True
        application = getattr(application, "app", getattr(application, "application", None))
        if application is None:
            return False
    return False


class AccessLogHandler(logging.Handler):
    """Hands uvicorn's access log lines to ``django.server``, as Django's server logs them.

    uvicorn's record carries ``(client, method, path, http version, status)``; Django's
    ``ServerFormatter`` colours a line by its ``status_code``, and 4xx/5xx are warnings and
    errors there, as ``WSGIRequestHandler.log_message`` makes them.
    """

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if not (isinstance(args, tuple) and len(args) == 5):
            server_logger.info(record.getMessage())
            return
        _client, method, path, version, status = args
        level = logging.INFO
        if isinstance(status, int) and status >= 500:
            level = logging.ERROR
        elif isinstance(status, int) and status >= 400:
            level = logging.WARNING
        server_logger.log(
            level,
            '"%s %s HTTP/%s" %s',
            method,
            path,
            version,
            status,
            extra={"status_code": status, "request": None, "server_time": server_time()},
        )


def server_time() -> str:
    """Now, as Django's development server stamps its request lines."""
    now = time.localtime()
    month = BaseHTTPRequestHandler.monthname[now.tm_mon]
    return f"{now.tm_mday:02d}/{month}/{now.tm_year} " + time.strftime("%H:%M:%S", now)


def log_requests_like_django() -> None:
    """Route uvicorn's access log to ``django.server`` unless the project configured it."""
    access = logging.getLogger("uvicorn.access")
    if access.handlers:
        return  # LOGGING names uvicorn's logger: the project decides
    access.addHandler(AccessLogHandler())
    access.setLevel(logging.INFO)
    access.propagate = False


class ASGIDevServer(WSGIServer):
    """Django's development server socket, served by uvicorn with an ASGI application.

    Django's ``runserver`` binds this class (so its port, IPv6 and "port in use" handling
    stay Django's), prints its start-up lines, then calls ``set_app`` and ``serve_forever``.
    """

    application: Any = None

    def set_app(self, application: Any) -> None:
        self.application = application

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        import uvicorn

        from djira.uvicorn_http import HttpToolsProtocol

        log_requests_like_django()
        config = uvicorn.Config(
            self.application,
            # uvicorn's, without the reference cycle it leaves behind each websocket.
            http=HttpToolsProtocol,
            # Django has no lifespan support; uvicorn would say so on every start.
            lifespan="off",
            # Leave Django's logging configuration alone (uvicorn's would replace handlers).
            log_config=None,
        )
        # uvicorn installs no signal handlers outside the main thread, where the
        # autoreloader runs this: the reloader stops the process on a change, as for WSGI.
        uvicorn.Server(config).run(sockets=[self.socket])
