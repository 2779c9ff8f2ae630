"""One ASGI app serving Django over HTTP and djira over Socket.IO.

# asgi.py
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
from djira.asgi import get_asgi_application
application = get_asgi_application()
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

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
        client = scope.get("client")

        async def guarded_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            text = message.get("text") if message["type"] == "websocket.receive" else None
            if text is not None and (not text or text[0] not in _PACKET_TYPES):
                logger.warning("Malformed Engine.IO frame from %s; closing it", client)
                return {"type": "websocket.disconnect", "code": 1002}
            return message

        return await self.app(scope, guarded_receive, send)


def get_asgi_application(django_app: Any = None, consumer: Any = None) -> FrameGuard:
    """Wrap ``django_app`` (default: Django's own) with djira's Socket.IO server.

    :param consumer: a started ``Consumer``; default: ``SOCKET_INSTANCE`` with the hooks
        discovered from each app's ``hooks.py`` (those that set ``event``).
    """
    if django_app is None:
        from django.core.asgi import get_asgi_application as django_asgi

        django_app = django_asgi()
    from djira.consumer import get_default_consumer
    from djira.settings import jira_settings

    consumer = consumer or get_default_consumer()
    consumer.start()
    app = socketio.ASGIApp(
        consumer.sio, other_asgi_app=django_app, socketio_path=jira_settings.SOCKETIO_PATH
    )
    return FrameGuard(app)
