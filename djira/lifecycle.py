"""The core's lifecycle events, for listeners that plug in (the admin's traffic recorder).

A server's ``Monitor`` counts connections, requests, errors and pushes, and tells each
registered listener about them: ``connected``, ``request`` (with the reply the client got
and its duration), ``pushed`` and ``disconnected``. The core calls these methods directly on
its request path, rather than patching the server at run time as python-socketio's
``instrument()`` does. With no listener registered an event costs a counter increment.

Register a listener class (instantiated once per server) from your app's ``ready()``:

    from djira import lifecycle
    lifecycle.register_listener(MyListener)

djira's admin console registers its recorder this way, only when it is installed.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from djira.trace import Trace

if TYPE_CHECKING:
    from djira.scope import Scope


class Listener(Protocol):
    """What a lifecycle listener implements (every method is called on the server's loop)."""

    def connected(self, scope: Scope) -> None: ...

    def disconnected(self, sid: str, reason: Any) -> None: ...

    def request(self, scope: Scope, reply: Mapping[str, Any], duration: float) -> None: ...

    def pushed(self, event: str, room: str, payload: dict[str, Any]) -> None: ...


ListenerFactory = Callable[[], Listener]
L = TypeVar("L")

_factories: list[ListenerFactory] = []
_monitors: weakref.WeakSet[Monitor] = weakref.WeakSet()


def register_listener(factory: ListenerFactory) -> None:
    """Give every server's monitor, present and future, a listener built by ``factory``."""
    if factory in _factories:
        return
    _factories.append(factory)
    for monitor in list(_monitors):
        monitor.listeners.append(factory())


def unregister_listener(factory: ListenerFactory) -> None:
    """Stop building listeners with ``factory`` (existing monitors keep theirs)."""
    if factory in _factories:
        _factories.remove(factory)


class Monitor:
    """One server's counters and listeners."""

    def __init__(self, listeners: list[Listener] | None = None) -> None:
        self.connections = 0
        self.requests = 0
        self.errors = 0
        self.pushes = 0
        self.listeners: list[Listener] = (
            listeners if listeners is not None else [factory() for factory in _factories]
        )
        _monitors.add(self)

    @property
    def wants_traces(self) -> bool:
        """Whether some listener wants each request's ``Trace`` (djira.trace) now."""
        return any(getattr(listener, "wants_traces", False) for listener in self.listeners)

    def start_trace(self) -> Trace | None:
        """The trace of a request starting now, if some listener wants it.

        Every listener is asked (none is skipped because another said yes first), once, so
        a listener that samples (its ``wants_traces`` a property) counts its own choices;
        the trace names those that said yes (``Trace.wanted_by``).
        """
        wanted = tuple(
            listener for listener in self.listeners if getattr(listener, "wants_traces", False)
        )
        return Trace(wanted) if wanted else None

    def find(self, kind: type[L]) -> L | None:
        """This monitor's listener of class ``kind``, if any."""
        for listener in self.listeners:
            if isinstance(listener, kind):
                return listener
        return None

    def connected(self, scope: Scope) -> None:
        self.connections += 1
        for listener in self.listeners:
            listener.connected(scope)

    def disconnected(self, sid: str, reason: Any) -> None:
        for listener in self.listeners:
            listener.disconnected(sid, reason)

    def request(self, scope: Scope, reply: Mapping[str, Any], duration: float) -> None:
        self.requests += 1
        if reply["status"] >= 500:
            self.errors += 1
        for listener in self.listeners:
            listener.request(scope, reply, duration)

    def pushed(self, event: str, room: str, payload: dict[str, Any]) -> None:
        self.pushes += 1
        for listener in self.listeners:
            listener.pushed(event, room, payload)

    def push_delivered(self, trace: str, event: str, room: str, recipients: int) -> None:
        """A traced request's push reached ``recipients`` sockets of this process.

        Optional for listeners: only those that follow traces define ``push_delivered``.
        """
        for listener in self.listeners:
            delivered = getattr(listener, "push_delivered", None)
            if delivered is not None:
                delivered(trace, event, room, recipients)
