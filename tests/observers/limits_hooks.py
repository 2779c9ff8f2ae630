"""A hook for tests/observers/test_limits.py, registered as ``blobs`` by
tests/observers/limits_asgi.py: pushes of any size to client-named rooms, on demand.
"""

from __future__ import annotations

import os

from django.dispatch import Signal

from djira.decorators import action
from djira.hooks import APIHook
from djira.observers import observer

blob_sent = Signal()

#: ``big`` requests this server has run (the test server's own count, read by ``state``).
answered = {"big": 0}


class BlobHook(APIHook):
    @observer(blob_sent)
    def blobs(self, seq=None, size=0, **kwargs):
        return {"seq": seq, "blob": "x" * size}

    @blobs.rooms
    def blob_rooms(self, room="blobs", **kwargs):
        yield room

    @blobs.subscribing_rooms
    def blob_subscribing_rooms(self, scope):
        return [scope.query_params.get("room", "blobs")]

    @action(actions=["SUBSCRIPTION"])
    async def subscribe(self, scope):
        await self.blobs.subscription(scope)

    @action(actions=["POST"])
    def push(self, scope):
        """``count`` pushes of ``size`` bytes to ``room``, each its own (committed) change."""
        room = scope.data.get("room", "blobs")
        for seq in range(int(scope.data["count"])):
            blob_sent.send(sender=None, seq=seq, size=int(scope.data["size"]), room=room)
        return {"sent": scope.data["count"]}

    @action(actions=["GET"])
    async def echo_size(self, scope):
        """A plain request: what the same payload costs without subscribing."""
        return {"size": len(str(scope.data))}

    @action(actions=["GET"])
    async def big(self, scope):
        """A reply of ``size`` bytes, counted."""
        answered["big"] += 1
        return {"blob": "x" * int(scope.query_params.get("size", 0))}

    @action(actions=["GET"])
    async def state(self, scope):
        """What the server holds: RSS, peak RSS (KiB), disconnects by reason, streams."""
        from djira.admin.state import get_recorder

        status = {}
        with open(f"/proc/{os.getpid()}/status") as f:  # noqa: ASYNC230 - procfs, instant
            for line in f:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    status[name] = int(value.split()[0])
        server = scope.server
        recorder = get_recorder(server.djira_consumer)
        history = server.delivery.history
        return {
            **status,
            "disconnects": dict(recorder.disconnects) if recorder else {},
            "streams": len(history.streams) if history is not None else 0,
            "sockets": len(server.eio.sockets),
            "big answered": answered["big"],
        }
