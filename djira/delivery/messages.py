"""What travels from a committed change (or an emit) to the sockets, and its wire format.

- ``Push``: an observer's change, addressed by **identity**: the observer's ``uid`` (stable
  across processes: module, hook class, attribute) and a user-level room. Nothing in it
  depends on how a process named the hook, so a shell or a worker can publish it. Each
  server process turns it into emits to its own sockets, with the ``event`` (hook name) and
  ``namespace`` (route) each socket subscribed through (``djira.delivery.local``).
- ``Emit``: a plain python-socketio emit (``APIHook.emit``, a ``receiver``'s
  ``server.emit``, ``djira.observers.emit``).

The wire format (``to_wire``/``from_wire``) is what the backends store and carry.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Emit(NamedTuple):
    """A python-socketio emit: ``data`` on ``event`` to room or sid ``to`` (``None``: all)."""

    event: str
    data: Any
    to: str | None = None
    skip_sid: str | list[str] | None = None
    namespace: str = "/"
    #: python-socketio's ``ignore_queue``: this process's sockets only, never published.
    local: bool = False
    #: Id of the request trace (djira.trace) that caused it, while one is recorded.
    trace: str | None = None
    #: W3C ``traceparent`` of the OpenTelemetry span that sent it (djira.telemetry).
    context: str | None = None


class Push(NamedTuple):
    """An observer's change for one user-level room, addressed by observer identity.

    ``epoch`` and ``offset`` are its position in the room's stream (``history``), set once
    it is numbered; ``None`` while it is not (or with ``HISTORY_SIZE`` 0).
    """

    observer: str
    room: str
    type: str
    data: Any
    #: Id of the request trace (djira.trace) that caused it, while one is recorded.
    trace: str | None = None
    epoch: str | None = None
    offset: int | None = None
    #: W3C ``traceparent`` of the OpenTelemetry span that sent it (djira.telemetry).
    context: str | None = None


Message = Emit | Push

# A W3C traceparent is 55 characters; a longer value read back is not one.
MAX_CONTEXT = 256


# -- wire format (what the backends store and carry) ------------------------------------


def to_wire(message: Message) -> dict[str, Any]:
    if isinstance(message, Push):
        push = {"o": message.observer, "r": message.room, "t": message.type, "d": message.data}
        if message.trace is not None:
            push["tr"] = message.trace
        if message.offset is not None:
            push["p"] = [message.epoch, message.offset]
        if message.context is not None:
            push["tp"] = message.context
        return push
    wire: dict[str, Any] = {"e": message.event, "d": message.data, "ns": message.namespace}
    if message.trace is not None:
        wire["tr"] = message.trace
    if message.context is not None:
        wire["tp"] = message.context
    if isinstance(message.data, tuple):  # several arguments: JSON would make it one list
        wire["d"], wire["args"] = list(message.data), True
    if message.to is not None:
        wire["to"] = message.to
    if message.skip_sid is not None:
        wire["skip"] = message.skip_sid
    return wire


def from_wire(wire: Any) -> Message | None:
    """The message in ``wire``, or ``None`` if it is not one djira understands."""
    if not isinstance(wire, dict):
        return None
    context = wire.get("tp")
    if not isinstance(context, str) or len(context) > MAX_CONTEXT:
        context = None
    if isinstance(wire.get("o"), str) and isinstance(wire.get("r"), str):
        trace = wire["tr"] if isinstance(wire.get("tr"), str) else None
        push = Push(wire["o"], wire["r"], str(wire.get("t")), wire.get("d"), trace)
        push = push._replace(context=context)
        position = wire.get("p")
        if isinstance(position, list) and len(position) == 2 and isinstance(position[1], int):
            push = push._replace(epoch=str(position[0]), offset=position[1])
        return push
    if isinstance(wire.get("e"), str):
        data = tuple(wire["d"]) if wire.get("args") and isinstance(wire["d"], list) else wire["d"]
        trace = wire["tr"] if isinstance(wire.get("tr"), str) else None
        return Emit(
            wire["e"],
            data,
            wire.get("to"),
            wire.get("skip"),
            wire.get("ns") or "/",
            trace=trace,
            context=context,
        )
    return None
