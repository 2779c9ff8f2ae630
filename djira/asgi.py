"""One ASGI app serving Django over HTTP and djira over Socket.IO.

# asgi.py
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
from djira.asgi import get_asgi_application
application = get_asgi_application()
"""

from __future__ import annotations

from typing import Any

import socketio


def get_asgi_application(django_app: Any = None, consumer: Any = None) -> socketio.ASGIApp:
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
    return socketio.ASGIApp(
        consumer.sio, other_asgi_app=django_app, socketio_path=jira_settings.SOCKETIO_PATH
    )
