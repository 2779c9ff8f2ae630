"""The limits test server plus ``wire``: which path a socket's pushes take, for test_wire.py."""

from djira.decorators import action
from djira.delivery.queues import queue_of
from djira.hooks import APIHook
from tests.observers.limits_asgi import application, consumer  # noqa: F401 - uvicorn serves it


class WireHook(APIHook):
    @action(actions=["GET"])
    async def state(self, scope):
        """Whether this socket's pushes may be written straight to its connection."""
        server = scope.server
        queue = queue_of(server, server.manager.eio_sid_from_sid(scope.sid, "/"))
        return {"wired": queue is not None and queue.wire is not None}


consumer.register("wire", WireHook)
