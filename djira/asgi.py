"""One ASGI app serving Django over HTTP and djira over Socket.IO.

# asgi.py
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
from djira.asgi import get_asgi_application
application = get_asgi_application()

With ``DEBUG`` on and ``django.contrib.staticfiles`` installed, static files are served
too, as ``runserver`` does; in production a web server or WhiteNoise serves them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import socketio

if TYPE_CHECKING:
    from djira.consumer import Consumer

logger = logging.getLogger("djira")

# Engine.IO v4 text packets start with their type, 0 (open) to 6 (noop).
_PACKET_TYPES = frozenset("0123456")


class FrameGuard:
    """ASGI wrapper that drops websocket frames Engine.IO cannot parse.

    python-engineio raises on such frames deep in its receive loop, and every one would
    become a traceback in the server log: a cheap way to flood it. Here a bad frame costs
    one warning line and its connection. (Socket.IO-level garbage is handled by
    ``DjiraServer._handle_eio_message``.)
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        guarded = GuardedReceive(receive, scope.get("client"))
        try:
            return await self.app(scope, guarded, send)
        finally:
            guarded.release()


class GuardedReceive:
    """A websocket connection's ``receive``, turning a malformed frame into a disconnect.

    ``release`` lets go of the ASGI server's ``receive`` once the connection is served.
    Something may outlive the connection holding this callable, for instance in a
    reference cycle only the cyclic garbage collector frees: python-engineio's own handshake
    kept ``receive`` in a class it defined per request (``wsgi.input``; djira.environ no
    longer does). Held through this, the server's ``receive`` would keep the whole
    connection (its websocket protocol, buffers and frames: about a hundred objects)
    waiting for that collection too.
    """

    __slots__ = ("_receive", "_client")

    def __init__(self, receive: Any, client: Any) -> None:
        self._receive = receive
        self._client = client

    async def __call__(self) -> dict[str, Any]:
        receive = self._receive
        if receive is None:  # served already: as a closed connection answers
            return {"type": "websocket.disconnect", "code": 1000}
        message: dict[str, Any] = await receive()
        text = message.get("text") if message["type"] == "websocket.receive" else None
        if text is not None and (not text or text[0] not in _PACKET_TYPES):
            logger.warning("Malformed Engine.IO frame from %s; closing it", self._client)
            return {"type": "websocket.disconnect", "code": 1002}
        return message

    def release(self) -> None:
        self._receive = None


def serves_static_files() -> bool:
    """Whether ``runserver`` would serve static files here: ``DEBUG`` and staticfiles on."""
    from django.apps import apps
    from django.conf import settings

    return bool(settings.DEBUG) and apps.is_installed("django.contrib.staticfiles")


def get_asgi_application(
    django_app: Any = None,
    consumer: Consumer | None = None,
    *,
    discover: bool = True,
    static_files: bool | None = None,
) -> FrameGuard:
    """Wrap ``django_app`` (default: Django's own) with djira's Socket.IO server.

    Call it after Django is set up (it sets Django up itself when ``django_app`` is left
    out), as the last line of ``asgi.py``.

    :param consumer: a ``Consumer`` with hooks registered by hand; default: the consumer of
        ``SOCKET_INSTANCE``. Either way it is started here.
    :param discover: also serve the hooks that set ``event`` in each installed app's
        ``hooks.py`` (by default; a name registered by hand on ``consumer`` wins).
    :param static_files: serve ``STATIC_URL`` through Django's static files handler; default
        ``DEBUG`` with ``django.contrib.staticfiles`` installed, as ``runserver`` does.
    """
    if django_app is None:
        from django.core.asgi import get_asgi_application as django_asgi

        django_app = django_asgi()
    from djira.checks import raise_on_errors

    raise_on_errors()  # ASGI servers run no system checks: refuse to start misconfigured
    from djira.consumer import Consumer, add_discovered_hooks, get_default_consumer
    from djira.runtime import tune_garbage_collector
    from djira.settings import jira_settings

    if consumer is None:
        sio = jira_settings.SOCKET_INSTANCE
        consumer = get_default_consumer() if discover else sio.djira_consumer or Consumer(sio)
    elif discover:
        add_discovered_hooks(consumer)
    consumer.start()
    # Process-wide, so only here, where a server is being built: not in every process that
    # merely starts a consumer (a shell, an admin view reading the hooks).
    tune_garbage_collector()
    if static_files if static_files is not None else serves_static_files():
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        # uvicorn serves no files: without this the admin console is unstyled and dead
        # under DEBUG, where ``runserver`` users expect static files to just work.
        django_app = ASGIStaticFilesHandler(django_app)
    app: Any = socketio.ASGIApp(
        consumer.sio, other_asgi_app=django_app, socketio_path=jira_settings.SOCKETIO_PATH
    )
    if jira_settings.HEALTH_PATH:
        from djira.health import HealthCheck

        app = HealthCheck(app, jira_settings.HEALTH_PATH)
    return FrameGuard(app)
