"""The one path every push takes: from the committing thread to the backend and the sockets.

Where a message goes, decided at send time (never at import time), by the delivery backend
(``DELIVERY_BACKEND``, djira.delivery):

1. **database**: written to the outbox table, in the open transaction when there is one,
   and numbered once it commits (``publishing``); every server reads the table in order.
2. The process runs a djira server whose loop is up: the messages are handed to that loop
   (``call_soon_threadsafe``) and one drain task per server numbers them (memory or Redis
   history), emits them to local sockets, in order, then publishes them on djira's Redis
   channel with the **redis** backend.
3. No server loop here (a ``manage.py`` command, a task worker, a WSGI worker) with the
   **redis** backend: numbered and published from the calling thread.
4. Otherwise (**memory**): nobody can receive them. Logged once per process, with the fix.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from djira.delivery import get_server
from djira.delivery.backends import get_backend
from djira.delivery.local import deliver_locally
from djira.delivery.messages import Emit, Message, Push
from djira.telemetry import context as telemetry
from djira.trace import current_trace

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")


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
        server = self.server
        while True:
            while self.queue:
                backend = get_backend()
                # Numbered here, in the order the sockets get them (``history``).
                messages = await backend.stamp(server, self.queue.popleft())
                for message in backend.admit(server, messages):
                    try:
                        await deliver_locally(server, message)
                    except Exception:
                        # One failed emit must not stop the messages queued behind it.
                        logger.exception("djira could not emit %r", message)
                backend.carry(server, messages)
            self.wakeup.clear()
            await self.wakeup.wait()


def get_outbox(server: DjiraServer) -> Outbox:
    """The server's outbox, created once even when several threads commit at the same time."""
    state = server.delivery
    if state.outbox is None:
        with state.lock:
            if state.outbox is None:
                state.outbox = Outbox(server)
    return state.outbox


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
    messages = telemetry.carry(messages)  # the sender's trace context, while TRACING has one
    server = server if server is not None else get_server()
    backend = get_backend()
    messages = backend.submit(messages, server)
    if not messages:
        return
    loop = server.loop
    if loop is not None and loop.is_running() and not loop.is_closed():
        outbox = get_outbox(server)
        if _running_loop() is loop:
            outbox.put(messages)
        else:
            loop.call_soon_threadsafe(outbox.put, messages)
        return
    backend.publish_elsewhere(messages, server)


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

    from djira.delivery.database import ALIAS

    if get_backend().writes_in_transaction and using in (None, ALIAS) and not message.local:
        # Written in the open transaction (if any) and numbered once it commits: the emit
        # exists if and only if the transaction committed.
        _safely([message], server)
        return

    transaction.on_commit(partial(_safely, [message], server), using=using)
