"""Two djira servers in one process, each with its own Consumer, for isolation tests."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from django.core.asgi import get_asgi_application as get_django_application  # noqa: E402

django_application = get_django_application()

import socketio  # noqa: E402

from djira.consumer import Consumer  # noqa: E402
from djira.decorators import action  # noqa: E402
from djira.hooks import APIHook  # noqa: E402
from djira.server import create_server  # noqa: E402


def make_hook(label: str) -> type[APIHook]:
    class Hook(APIHook):
        @action(actions=["GET"])
        def who(self, scope):
            consumer = self.server.djira_consumer
            return {"server": label, "connections": consumer.monitor.connections}

    return Hook


first, second = create_server(), create_server()
for sio, label in ((first, "first"), (second, "second")):
    consumer = Consumer(sio)
    consumer.register("who", make_hook(label))
    consumer.start()

application = socketio.ASGIApp(
    first,
    socketio_path="first/socket.io",
    other_asgi_app=socketio.ASGIApp(
        second, socketio_path="second/socket.io", other_asgi_app=django_application
    ),
)
