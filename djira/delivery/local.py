"""Delivery to this process's sockets, on the server's loop: addresses and emits.

A socket that subscribes to observer ``O`` through hook name ``E`` and route ``N`` joins the
python-socketio room ``djira:E:N:<O's uid>:<room>`` for each room it is allowed. The server
also notes that ``(E, N)`` is an address of ``O`` (``Addresses``), so a push for ``O``'s room
``R`` becomes one emit per address, to ``djira:E:N:O:R``, carrying ``event=E`` and
``namespace=N``: the names this socket used, whatever names other processes know the hook
by. Addresses only grow (one per hook name and route, a handful per observer); an address
whose rooms have no member costs a dict lookup per push.

Every server that emits a message to its own sockets reports it to its monitor
(``monitor.pushed``), whichever process published it.

**One pass per push** (``fan_out``): python-socketio's room emit encodes the packet once, then
creates an asyncio task per recipient, each putting the packet on that socket's Engine.IO
queue. Here the Socket.IO packet is encoded once, wrapped in one Engine.IO packet (whose
encoding python-engineio caches, so every writer sends the same string), and put straight
onto each member's bounded queue (djira.delivery.queues) in one synchronous loop: no task,
no await, so pushes keep their order per room and per socket, and a socket past its bound
is refused there. A member with nothing waiting for it (its writer idle, its queue and its
transport empty) does not even take the queue: the push's websocket frame, encoded once
too, is written straight to its connection (djira.delivery.wire), which leaves one
``transport.write`` per recipient. Emits that need python-socketio's own path (binary
attachments) still take it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from engineio import packet as eio_packet
from socketio import packet as sio_packet

from djira.delivery.messages import Emit, Message, Push
from djira.delivery.queues import SocketQueue
from djira.delivery.wire import text_frame
from djira.telemetry import context as telemetry

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

_NO_SKIP: frozenset[str] = frozenset()


def sio_room(event: str, namespace: str | None, observer: str, room: str) -> str:
    """The python-socketio room of ``room`` for sockets subscribed through ``event``/route."""
    return f"djira:{event}:{namespace or ''}:{observer}:{room}"


class Addresses:
    """Per server: observer uid -> the (hook name, route) pairs sockets subscribed through."""

    def __init__(self) -> None:
        self._by_observer: dict[str, tuple[tuple[str, str | None], ...]] = {}

    def add(self, observer: str, event: str, namespace: str | None) -> None:
        known = self._by_observer.get(observer, ())
        if (event, namespace) not in known:
            # Replaced, never mutated: the outbox may be iterating the previous tuple.
            self._by_observer[observer] = (*known, (event, namespace))

    def of(self, observer: str) -> tuple[tuple[str, str | None], ...]:
        return self._by_observer.get(observer, ())


def get_addresses(server: DjiraServer) -> Addresses:
    state = server.delivery
    if state.addresses is None:
        with state.lock:
            if state.addresses is None:
                state.addresses = Addresses()
    return state.addresses


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
    sent: int | None = None,
) -> None:
    consumer = server.djira_consumer
    if consumer is None:
        return
    if not isinstance(payload, dict):
        payload = {"data": payload}
    try:
        consumer.monitor.pushed(event, room, payload)
        if consumer.telemetry is not None:  # all that metrics cost here while they are off
            if sent is None:  # python-socketio's emit sent it: to every member of the room
                sent = len(server.manager.rooms.get(to[0], {}).get(to[1]) or ())
            consumer.telemetry.fanned_out(event, room, sent)
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


def encode_event(server: DjiraServer, event: str, data: Any, namespace: str = "/") -> Any:
    """``data`` on ``event`` as one Engine.IO message, or ``None`` if it has binary parts."""
    args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
    encoded = server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args])
    text = encoded.encode()
    if not isinstance(text, str):  # binary attachments: several packets per message
        return None
    return eio_packet.Packet(eio_packet.MESSAGE, text)


def fan_out(
    server: DjiraServer,
    event: str,
    data: Any,
    room: str | None,
    namespace: str = "/",
    skip: Collection[str] = _NO_SKIP,
) -> int | None:
    """Queue ``data`` on ``event`` for each of this process's sockets in ``room``.

    Encoded once, written to each member's connection or put on its queue in one pass;
    returns how many sockets it went to, or ``None`` when it has binary parts (use
    ``server.emit``).
    """
    members = server.manager.rooms.get(namespace, {}).get(room)
    if not members:
        return 0
    pkt = encode_event(server, event, data, namespace)
    if pkt is None:
        return None
    frame: bytes | None = None  # the websocket frame, encoded for the first direct write
    sockets = server.eio.sockets
    queued = 0
    # No await in this loop: the room cannot change under it, and a queue past its bound
    # only schedules its socket's closing.
    for sid, eio_sid in members.items():
        if sid in skip:
            continue
        socket = sockets.get(eio_sid)
        if socket is None or socket.closed or socket.closing:
            continue
        queue = socket.queue
        # Straight to the transport when nothing waits for this socket (its writer holds
        # nothing, its queue and transport are empty): the push cannot overtake anything.
        wire = queue.direct() if type(queue) is SocketQueue else None
        if wire is not None:
            if frame is None:
                frame = text_frame(pkt.encode())
            wire.transport.write(frame)
        else:
            queue.put_nowait(pkt)
        queued += 1
    return queued


@asynccontextmanager
async def catching_up(server: DjiraServer, sid: str) -> AsyncIterator[SocketQueue | None]:
    """One catch-up at a time per socket: hold its queue's catch-up lock. A coroutine.

    What a catch-up reads (a room's history) is then in memory for one request of the
    socket at a time, however many it sends at once.
    """
    eio_sid = server.manager.eio_sid_from_sid(sid, "/")
    socket = server.eio.sockets.get(eio_sid) if eio_sid is not None else None
    queue = getattr(socket, "queue", None)
    if not isinstance(queue, SocketQueue):
        yield None
        return
    async with queue.catch_up_lock:
        yield queue


async def send_paced(
    server: DjiraServer, sid: str, event: str, data: Any, queue: SocketQueue | None
) -> bool:
    """Queue ``data`` for socket ``sid`` once its queue is at most half full. A coroutine.

    Returns ``False`` once the socket is gone or closing (stop sending). Without a bounded
    queue (a socket connected some other way), ``server.emit`` to the socket.
    """
    if queue is None:
        await server.emit(event, data, to=sid, ignore_queue=True)
        return True
    eio_sid = server.manager.eio_sid_from_sid(sid, "/")
    while True:
        socket = server.eio.sockets.get(eio_sid) if eio_sid is not None else None
        if socket is None or socket.closed or socket.closing or queue.overflowed:
            return False
        if queue.has_room():
            break
        # Woken as the writer takes messages; re-checked every second in case the
        # socket closed meanwhile (closing does not touch the queue).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(queue.wait_for_room(), 1.0)
    pkt = encode_event(server, event, data)
    if pkt is None:
        await server.emit(event, data, to=sid, ignore_queue=True)
    else:
        socket.queue.put_nowait(pkt)
    return True


async def deliver_locally(server: DjiraServer, message: Message) -> None:
    """Emit ``message`` to this process's sockets only, and report it. A coroutine."""
    telemetry.delivering(message)  # its span links to its sender's (djira.telemetry)
    if isinstance(message, Emit):
        if not _has_members(server, message.namespace, message.to):
            return
        skip = message.skip_sid
        skipped = _NO_SKIP if skip is None else {skip} if isinstance(skip, str) else set(skip)
        queued = fan_out(
            server, message.event, message.data, message.to, message.namespace, skipped
        )
        if queued is None:
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
            queued,
        )
        return
    for event, namespace in get_addresses(server).of(message.observer):
        to = sio_room(event, namespace, message.observer, message.room)
        if not _has_members(server, "/", to):
            continue
        payload = push_payload(event, namespace, message)
        sent = fan_out(server, event, payload, to)
        if sent is None:
            await server.emit(event, payload, to=to, ignore_queue=True)
        _record(server, event, message.room, payload, message.trace, ("/", to), sent)
