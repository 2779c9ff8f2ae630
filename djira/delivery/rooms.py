"""python-socketio's room bookkeeping, with the rooms each socket joined indexed.

python-socketio finds a disconnecting socket's rooms (``basic_disconnect``), and answers
``get_rooms``, by scanning every room of the namespace. Every socket has a room of its own,
so each disconnect costs time in proportion to the connections: one to two milliseconds of
the event loop's at 1,000 (``python -m bench.churn``), ten times that at 10,000. Here each
socket's rooms are also kept per socket, so leaving them all costs what it joined.

Every socket is in two rooms by construction, ``None`` (the namespace's connected sockets)
and its own sid's, so only the others are indexed: an idle connection costs nothing more.
python-socketio changes ``rooms`` only through ``basic_enter_room`` and ``basic_leave_room``
(``tests/test_rooms.py`` checks that both managers end in the same state).
"""

from __future__ import annotations

from typing import Any

import socketio


class IndexedRooms:
    """A mixin for python-socketio managers: each socket's joined rooms kept per socket."""

    rooms: dict[str, dict[Any, Any]]
    callbacks: dict[str, Any]
    pending_connect: dict[str, list[str]]
    pending_disconnect: dict[str, list[str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (namespace, sid) -> the rooms it joined besides None and its own, in joining order.
        self.joined: dict[tuple[str, str], dict[Any, None]] = {}

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # type: ignore[misc]
        if room is not None and room != sid:
            self.joined.setdefault((namespace, sid), {})[room] = None

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)  # type: ignore[misc]
        joined = self.joined.get((namespace, sid))
        if joined is not None:
            joined.pop(room, None)
            if not joined:
                del self.joined[(namespace, sid)]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        # python-socketio's, with the scan of every room replaced by the index.
        if namespace not in self.rooms:
            return
        for room in list(self.joined.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.basic_leave_room(sid, namespace, sid)
        self.basic_leave_room(sid, namespace, None)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        """The rooms ``sid`` is in: its own and those it joined (python-socketio's answer)."""
        rooms = self.rooms.get(namespace, {})
        own = [sid] if sid in rooms.get(sid, ()) else []
        return [*own, *self.joined.get((namespace, sid), ())]


class DjiraAsyncManager(IndexedRooms, socketio.AsyncManager):
    """The manager of a ``DjiraServer`` without Redis (one process)."""
