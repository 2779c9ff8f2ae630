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
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from djira.delivery.messages import Emit, Message, Push

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

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


_addresses_lock = threading.Lock()


def get_addresses(server: DjiraServer) -> Addresses:
    addresses = getattr(server, "djira_addresses", None)
    if addresses is None:
        with _addresses_lock:
            addresses = getattr(server, "djira_addresses", None)
            if addresses is None:
                addresses = Addresses()
                server.djira_addresses = addresses
    return addresses


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
    for event, namespace in get_addresses(server).of(message.observer):
        to = sio_room(event, namespace, message.observer, message.room)
        if not _has_members(server, "/", to):
            continue
        payload = push_payload(event, namespace, message)
        await server.emit(event, payload, to=to, ignore_queue=True)
        _record(server, event, message.room, payload, message.trace, ("/", to))

