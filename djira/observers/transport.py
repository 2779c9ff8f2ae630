"""Getting a push from the thread that committed a change to the sockets that want it.

Three cases, checked at send time (never at import time):

1. The process runs a djira server and its loop is up: the push is handed to that loop
   (``call_soon_threadsafe``) and emitted there, in order, by one drain task per server.
   With ``REDIS_URL`` the server's ``AsyncRedisManager`` also publishes it to the other
   processes.
2. No server loop here (a ``manage.py`` command, a task worker, a WSGI worker, or an ASGI
   process no socket has reached yet) but ``REDIS_URL`` is set: the push is published
   through a write-only ``socketio.RedisManager``, synchronously, from the calling thread.
3. Neither: no socket can be listening anywhere for this process's pushes, so the push is
   dropped (logged at debug level).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")


class Push(NamedTuple):
    """One emit: ``payload`` on ``event`` to Socket.IO room ``to`` (``None``: everyone)."""

    event: str
    payload: Any
    to: str | None
    namespace: str = "/"
    #: The room name recorded by the admin monitor (the user-level room, not ``to``).
    label: str = ""


class Outbox:
    """Per-server FIFO of pushes, emitted one after another by a single task.

    One task (instead of a task per push) keeps commit order per room, which concurrent
    ``server.emit`` calls would not guarantee once a Redis publish is awaited in between.
    """

    def __init__(self, server: DjiraServer) -> None:
        self.server = server
        self.queue: deque[list[Push]] = deque()
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def put(self, pushes: list[Push]) -> None:
        """Queue pushes; must run on the server's loop."""
        self.queue.append(pushes)
        self.wakeup.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        server = self.server
        while True:
            while self.queue:
                pushes = self.queue.popleft()
                consumer = getattr(server, "djira_consumer", None)
                for push in pushes:
                    try:
                        await server.emit(
                            push.event, push.payload, to=push.to, namespace=push.namespace
                        )
                    except Exception:
                        # A failed emit (e.g. Redis refused the publish) must not stop the
                        # pushes queued behind it.
                        logger.exception("djira could not emit %r to %r", push.event, push.to)
                        continue
                    if consumer is not None:
                        consumer.monitor.pushed(
                            push.event, push.label or push.to or "*", push.payload
                        )
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


@lru_cache(maxsize=4)
def get_write_only_manager(url: str) -> Any:
    """A process-wide write-only Redis manager for processes that serve no sockets."""
    from djira import json as djira_json
    from djira.observers.redis import DjiraRedisManager

    return DjiraRedisManager(url, write_only=True, json=djira_json)


def get_server() -> DjiraServer:
    from djira.settings import jira_settings

    return jira_settings.SOCKET_INSTANCE


def send(pushes: Iterable[Push], server: DjiraServer | None = None) -> None:
    """Deliver ``pushes`` from any thread, without waiting for the sockets.

    Call it after the transaction committed (observers and ``dispatch.receiver`` do).
    """
    pushes = list(pushes)
    if not pushes:
        return
    server = server if server is not None else get_server()
    loop = server.loop
    if loop is not None and loop.is_running() and not loop.is_closed():
        outbox = get_outbox(server)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            outbox.put(pushes)
        else:
            loop.call_soon_threadsafe(outbox.put, pushes)
        return
    send_write_only(pushes)


def send_write_only(pushes: Iterable[Push]) -> None:
    """Publish through Redis from a process with no server loop, or drop if no Redis."""
    from djira.settings import jira_settings

    url = jira_settings.REDIS_URL
    if not url:
        logger.debug("No djira server loop and no REDIS_URL in this process; push dropped.")
        return
    manager = get_write_only_manager(url)
    for push in pushes:
        # RedisManager logs and gives up after two failed attempts; it does not raise, so
        # a Redis outage never breaks the caller (a save, a request).
        manager.emit(push.event, push.payload, namespace=push.namespace, room=push.to)
