"""The one path every push takes: the outbox, from the committing thread to the sockets.

Two kinds of message travel on it:

- ``Push``: an observer's change, addressed by **identity**: the observer's ``uid`` (stable
  across processes: module, hook class, attribute) and a user-level room. Nothing in it
  depends on how a process named the hook, so a shell or a worker can publish it. Each
  server process turns it into emits to its own sockets, with the ``event`` (hook name) and
  ``namespace`` (route) each socket subscribed through (``subscriptions.Addresses``).
- ``Emit``: a plain python-socketio emit (``APIHook.emit``, a ``receiver``'s
  ``server.emit``, ``djira.observers.emit``).

Where a message goes, decided at send time (never at import time):

1. The process runs a djira server whose loop is up: the messages are handed to that loop
   (``call_soon_threadsafe``) and one drain task per server emits them to local sockets,
   in order, then publishes them on djira's Redis channel when ``REDIS_URL`` is set.
2. No server loop here (a ``manage.py`` command, a task worker, a WSGI worker, an ASGI
   process no socket has reached yet) and ``REDIS_URL`` is set: published on the channel,
   synchronously, from the calling thread.
3. Neither: nobody can receive them. Logged once per process at warning level, with the fix.

Every server that emits a message to its own sockets reports it to its monitor
(``monitor.pushed``), whichever process published it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from djira.delivery import backend_kind
from djira.trace import current_trace

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

NO_ONE = (
    "djira: a change was committed in a process that serves no sockets (a shell, a worker, "
    "a WSGI process) and DJIRA_SETTINGS['DELIVERY_BACKEND'] is 'memory', so no subscriber "
    "can receive its pushes. Use the 'database' backend (the default without REDIS_URL) or "
    "'redis' with REDIS_URL. Said once per process."
)


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


Message = Emit | Push


# -- wire format (djira's Redis channel) ---------------------------------------------------


def to_wire(message: Message) -> dict[str, Any]:
    if isinstance(message, Push):
        push = {"o": message.observer, "r": message.room, "t": message.type, "d": message.data}
        if message.trace is not None:
            push["tr"] = message.trace
        if message.offset is not None:
            push["p"] = [message.epoch, message.offset]
        return push
    wire: dict[str, Any] = {"e": message.event, "d": message.data, "ns": message.namespace}
    if message.trace is not None:
        wire["tr"] = message.trace
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
    if isinstance(wire.get("o"), str) and isinstance(wire.get("r"), str):
        trace = wire["tr"] if isinstance(wire.get("tr"), str) else None
        push = Push(wire["o"], wire["r"], str(wire.get("t")), wire.get("d"), trace)
        position = wire.get("p")
        if isinstance(position, list) and len(position) == 2 and isinstance(position[1], int):
            push = push._replace(epoch=str(position[0]), offset=position[1])
        return push
    if isinstance(wire.get("e"), str):
        data = tuple(wire["d"]) if wire.get("args") and isinstance(wire["d"], list) else wire["d"]
        trace = wire["tr"] if isinstance(wire.get("tr"), str) else None
        return Emit(
            wire["e"], data, wire.get("to"), wire.get("skip"), wire.get("ns") or "/", trace=trace
        )
    return None


# -- local delivery (on a server's loop) ---------------------------------------------------


def _has_members(server: DjiraServer, namespace: str, room: str | None) -> bool:
    # ``rooms[namespace][None]`` holds every connected socket, and every sid is a room.
    return bool(server.manager.rooms.get(namespace, {}).get(room))


def _record(
    server: DjiraServer,
    event: str,
    room: str,
    payload: Any,
    trace: str | None = None,
    to: tuple[str, str | None] = ("/", None),
) -> None:
    consumer = getattr(server, "djira_consumer", None)
    if consumer is None:
        return
    if not isinstance(payload, dict):
        payload = {"data": payload}
    try:
        consumer.monitor.pushed(event, room, payload)
        if trace is not None:
            # A traced request's push: listeners that follow traces (the admin's recorder)
            # learn how many sockets of this process it reached.
            recipients = len(server.manager.rooms.get(to[0], {}).get(to[1]) or ())
            consumer.monitor.push_delivered(trace, event, room, recipients)
    except Exception:
        # A listener's bug must not stop delivery.
        logger.exception("djira: a lifecycle listener failed on a push to %r", room)


def push_payload(event: str, namespace: str | None, push: Push) -> dict[str, Any]:
    """The push envelope a socket subscribed through ``event``/``namespace`` receives."""
    payload = {
        "status": 200,
        "event": event,
        "namespace": namespace,
        "action": "SUBSCRIPTION",
        "type": push.type,
        "room": push.room,
        "data": push.data,
    }
    if push.offset is not None:
        payload["epoch"], payload["offset"] = push.epoch, push.offset
    return payload


async def deliver_locally(server: DjiraServer, message: Message) -> None:
    """Emit ``message`` to this process's sockets only, and report it. A coroutine."""
    if isinstance(message, Emit):
        if not _has_members(server, message.namespace, message.to):
            return
        await server.emit(
            message.event,
            message.data,
            to=message.to,
            skip_sid=message.skip_sid,
            namespace=message.namespace,
            ignore_queue=True,  # djira publishes on its own channel (not python-socketio's)
        )
        _record(
            server,
            message.event,
            message.to or "*",
            message.data,
            message.trace,
            (message.namespace, message.to),
        )
        return
    from djira.observers.subscriptions import get_addresses, sio_room

    for event, namespace in get_addresses(server).of(message.observer):
        to = sio_room(event, namespace, message.observer, message.room)
        if not _has_members(server, "/", to):
            continue
        payload = push_payload(event, namespace, message)
        await server.emit(event, payload, to=to, ignore_queue=True)
        _record(server, event, message.room, payload, message.trace, ("/", to))


class Outbox:
    """Per-server FIFO of messages, emitted one after another by a single task.

    One task (instead of a task per emit) keeps commit order: concurrent emits would not
    once anything in between awaits.
    """

    def __init__(self, server: DjiraServer) -> None:
        self.server = server
        self.queue: deque[list[Message]] = deque()
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def put(self, messages: list[Message]) -> None:
        """Queue messages; must run on the server's loop."""
        self.queue.append(messages)
        self.wakeup.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        from djira.observers.history import stamp_on_server
        from djira.observers.redis import get_server_link

        server = self.server
        while True:
            while self.queue:
                # Numbered here, in the order the sockets get them (``history``).
                messages = await stamp_on_server(server, self.queue.popleft())
                for message in messages:
                    try:
                        await deliver_locally(server, message)
                    except Exception:
                        # One failed emit must not stop the messages queued behind it.
                        logger.exception("djira could not emit %r", message)
                link = get_server_link(server) if backend_kind() == "redis" else None
                if link is not None:
                    # Publishing is queued for another task: past the numbering above (one
                    # round trip, bounded by the client's timeout), Redis never delays the
                    # local sockets.
                    link.publish([m for m in messages if not (isinstance(m, Emit) and m.local)])
            self.wakeup.clear()
            await self.wakeup.wait()


_outbox_lock = threading.Lock()


def get_outbox(server: DjiraServer) -> Outbox:
    """The server's outbox, created once even when several threads commit at the same time."""
    outbox = getattr(server, "djira_outbox", None)
    if outbox is None:
        with _outbox_lock:
            outbox = getattr(server, "djira_outbox", None)
            if outbox is None:
                outbox = server.djira_outbox = Outbox(server)
    return outbox


def get_server() -> DjiraServer:
    from djira.settings import jira_settings

    return jira_settings.SOCKET_INSTANCE


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def send(messages: Iterable[Message], server: DjiraServer | None = None) -> None:
    """Deliver ``messages`` from any thread, in order, without waiting for the sockets.

    Call it once the change is committed (``emit`` and the observers do).
    """
    messages = list(messages)
    if not messages:
        return
    trace = current_trace.get()
    if trace is not None:
        # Sent by a request being traced (in its worker thread, at commit): carry its id,
        # so whichever process delivers the push can say whom it reached.
        messages = [m._replace(trace=trace.id) for m in messages]
        for m in messages:
            if isinstance(m, Push):
                trace.add("push", observer=m.observer, room=m.room, type=m.type)
            else:
                trace.add("push", event=m.event, room=m.to)
    server = server if server is not None else get_server()
    loop = server.loop
    if backend_kind() == "database":
        shared = [m for m in messages if not (isinstance(m, Emit) and m.local)]
        if shared:
            _publish_to_database(shared, server, loop)
        # ``ignore_queue`` emits are this process's sockets' only: no row, no number.
        messages = [m for m in messages if isinstance(m, Emit) and m.local]
        if not messages:
            return
    if loop is not None and loop.is_running() and not loop.is_closed():
        outbox = get_outbox(server)
        if _running_loop() is loop:
            outbox.put(messages)
        else:
            loop.call_soon_threadsafe(outbox.put, messages)
        return
    publish_from_anywhere(messages, server)


def _publish_to_database(
    messages: list[Message], server: DjiraServer, loop: asyncio.AbstractEventLoop | None
) -> None:
    from djira.delivery import publishing

    if loop is not None and _running_loop() is loop:
        # On the server's loop (presence, ``await``-less emits): written on a worker thread.
        task = loop.create_task(publishing.publish_async(messages, server))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    else:
        publishing.publish(messages, server)


#: Publishing tasks in flight (the loop keeps only weak references to tasks).
_tasks: set[asyncio.Task[None]] = set()

_warned_no_one = False


def publish_from_anywhere(messages: list[Message], server: DjiraServer) -> None:
    """Publish through Redis from a process with no server loop; say once if it cannot."""
    global _warned_no_one
    from djira.observers.redis import get_publisher
    from djira.settings import jira_settings

    messages = [m for m in messages if not (isinstance(m, Emit) and m.local)]
    url = jira_settings.REDIS_URL
    if url and backend_kind() == "redis":
        get_publisher(url).publish(messages)
    elif getattr(server, "djira_consumer", None) is not None:
        # A server process that no socket has reached yet: nobody to tell, nothing wrong.
        logger.debug("djira: no socket connected to this process yet; push dropped")
    elif messages and not _warned_no_one:
        _warned_no_one = True
        logger.warning(NO_ONE)


# -- the emit path shared by APIHook.emit, receiver's server.emit and observers.emit -------


def _safely(messages: list[Message], server: DjiraServer | None) -> None:
    try:
        send(messages, server)
    except Exception:
        logger.exception("djira could not deliver %r", messages)


def emit(
    event: str,
    data: Any = None,
    *,
    to: str | None = None,
    room: str | None = None,
    skip_sid: str | list[str] | None = None,
    namespace: str | None = None,
    ignore_queue: bool = False,
    callback: Any = None,
    server: DjiraServer | None = None,
    using: str | None = None,
) -> None:
    """Emit after the current transaction on ``using`` commits (at once outside one).

    Accepts python-socketio's ``emit`` arguments; ``callback`` is refused: an emit that
    leaves after commit, possibly from another process, has nobody to hand the
    acknowledgement to.
    """
    if callback is not None:
        raise TypeError(
            "djira's emit does not take `callback`: the emit leaves after commit, maybe from "
            "another process. In an async route body, `await self.server.call(...)` instead."
        )
    if not isinstance(event, str) or not event:
        raise TypeError(f"emit() needs an event name, not {event!r}.")
    message = Emit(event, data, to or room, skip_sid, namespace or "/", bool(ignore_queue))
    if _running_loop() is not None:
        # On an event loop no ORM transaction of this thread can be open: send now.
        send([message], server)
        return
    from django.db import transaction

    if backend_kind() == "database" and using in (None, "default") and not message.local:
        # Written in the open transaction (if any) and numbered once it commits: the emit
        # exists if and only if the transaction committed.
        _safely([message], server)
        return

    transaction.on_commit(partial(_safely, [message], server), using=using)
