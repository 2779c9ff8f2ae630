"""A test server that pings every second and closes a client whose pong is 0.2 s late, and
tells the disconnect reasons it saw (tests/test_ping_live.py)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application as get_django_application  # noqa: E402

django_application = get_django_application()

from djira.asgi import get_asgi_application  # noqa: E402
from djira.consumer import Consumer  # noqa: E402
from djira.decorators import action  # noqa: E402
from djira.hooks import APIHook  # noqa: E402
from djira.server import create_server  # noqa: E402
from djira.settings import jira_settings  # noqa: E402

sio = create_server(ping_interval=1.0, ping_timeout=0.2)
settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio}
jira_settings.reload()

reasons: list[str] = []


class Reasons:
    """A lifecycle listener keeping each disconnect's reason."""

    def connected(self, scope):
        pass

    def disconnected(self, sid, reason):
        reasons.append(reason)

    def request(self, scope, reply, duration):
        pass

    def pushed(self, event, room, payload):
        pass


class PingHook(APIHook):
    @action(actions=["GET"])
    async def reasons(self, scope):
        return reasons


consumer = Consumer(sio)
consumer.register("ping", PingHook)
consumer.monitor.listeners.append(Reasons())
application = get_asgi_application(django_application, consumer=consumer, discover=False)
