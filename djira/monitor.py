"""Explicit traffic events from djira's dispatch path (the admin extension's data source).

Dispatch calls these methods directly rather than djira patching the server at run time
(python-socketio's ``instrument()`` does that). With no recorder attached, each event
costs a counter increment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from djira.scope import Scope


class Recorder(Protocol):
    """What the admin attaches to a ``Monitor`` to keep traffic."""

    def connected(self, scope: Scope) -> None: ...

    def disconnected(self, sid: str, reason: Any) -> None: ...

    def request(self, scope: Scope, reply: dict[str, Any], duration: float) -> None: ...

    def pushed(self, event: str, room: str, payload: dict[str, Any]) -> None: ...


class Monitor:
    """Per-server event counts, plus an optional recorder.

    The recorder defaults to the admin's ``TrafficRecorder``, which only counts until an
    admin page watches; set ``monitor.recorder = None`` to drop even that.
    """

    def __init__(self, recorder: Recorder | None | bool = True) -> None:
        self.connections = 0
        self.requests = 0
        self.errors = 0
        self.pushes = 0
        if recorder is True:
            from djira.admin.recorder import TrafficRecorder

            recorder = TrafficRecorder()
        self.recorder: Recorder | None = recorder or None

    def connected(self, scope: Scope) -> None:
        self.connections += 1
        if self.recorder is not None:
            self.recorder.connected(scope)

    def disconnected(self, sid: str, reason: Any) -> None:
        if self.recorder is not None:
            self.recorder.disconnected(sid, reason)

    def request(self, scope: Scope, reply: dict[str, Any], duration: float) -> None:
        self.requests += 1
        if reply["status"] >= 500:
            self.errors += 1
        if self.recorder is not None:
            self.recorder.request(scope, reply, duration)

    def pushed(self, event: str, room: str, payload: dict[str, Any]) -> None:
        self.pushes += 1
        if self.recorder is not None:
            self.recorder.pushed(event, room, payload)
