"""A server's side of the database backend: read the outbox in order, deliver each row once.

One ``Follower`` per server, on the server's loop. It keeps the last global ``seq`` it
delivered; rows reach it two ways, and it delivers them strictly in ``seq`` order:

- its own process's rows, handed over right after they are numbered (``accept``), so a
  server's own changes reach its sockets without waiting for a read;
- every process's rows, read from the table after the last delivered ``seq``: every
  ``DELIVERY_POLL_INTERVAL`` seconds, at once when a handed-over row is ahead of a gap, and
  on PostgreSQL whenever a ``NOTIFY`` says another process numbered rows.

A row that arrives both ways is delivered once (its ``seq`` is already past). Now and then
the follower also numbers rows a dead process left unnumbered, and trims old rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from djira import json as djira_json
from djira.delivery import database
from djira.delivery.database import Row

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

T = TypeVar("T")

#: How often (seconds) a follower numbers orphans and trims old rows.
ORPHANS_EVERY = 1.0
TRIM_EVERY = 30.0
#: Seconds between reads while PostgreSQL's NOTIFY wakes the follower.
LISTENING_POLL = 2.0


def settings() -> tuple[float, int, float]:
    from djira.settings import jira_settings

    return (
        float(jira_settings.DELIVERY_POLL_INTERVAL),
        int(jira_settings.HISTORY_SIZE),
        float(jira_settings.HISTORY_TTL),
    )


class SharedRead(Generic[T]):
    """Calls that come together share one run of ``fn``, which starts after all of them:
    each caller gets a result at least as fresh as the moment it called.

    While a run is on, callers wait for the next, which starts as soon as it ends and
    serves them all: a thousand clients resubscribing at once (a server's restart) cost a
    few reads of the outbox's head, not a thousand.
    """

    def __init__(self, fn: Callable[[], Awaitable[T]]) -> None:
        self.fn = fn
        self.running: asyncio.Task[T] | None = None
        self.next: asyncio.Task[T] | None = None

    def __call__(self) -> asyncio.Task[T]:
        if self.next is None:
            self.next = asyncio.get_running_loop().create_task(self._run(self.running))
        return self.next

    async def _run(self, before: asyncio.Task[T] | None) -> T:
        if before is not None:
            await asyncio.wait([before])  # however it ended
        # From here on this run is on: callers arriving now need the next one.
        self.running, self.next = self.next, None
        return await self.fn()


class Follower:
    """Delivers the outbox's rows to one server's sockets, in ``seq`` order, once each."""

    def __init__(self, server: DjiraServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        #: The last ``seq`` delivered; ``None`` until the table's head is known.
        self.delivered: int | None = None
        self.buffer: dict[int, Row] = {}
        self.wakeup = asyncio.Event()
        self.ready = asyncio.Event()
        self.task = self.loop.create_task(self._run())
        self.listener: asyncio.Task[None] | None = None
        self.failing = False
        #: ``settled`` callers: (the ``seq`` they wait for, their future).
        self.waiters: list[tuple[int, asyncio.Future[None]]] = []
        #: The epoch of the numbering the follower reads ("" before anything was numbered).
        self.epoch = ""
        #: ``settled``'s read of the table's head, shared by the callers of a moment.
        self.shared_head = SharedRead(self._read_head)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="djira-outbox")

    # -- rows in ---------------------------------------------------------------------------

    def accept(self, rows: list[Row]) -> None:
        """Take this process's numbered rows; must run on the server's loop."""
        if self._take(rows):
            self.wakeup.set()

    def _take(self, rows: list[Row]) -> bool:
        """Buffer the rows not delivered yet; whether there was any."""
        fresh = False
        for row in rows:
            if row.epoch != self.epoch:
                self._restart(row.epoch)
            if self.delivered is None or row.seq > self.delivered:
                self.buffer[row.seq] = row
                fresh = True
        return fresh

    def _restart(self, epoch: str) -> bool:
        """The table was emptied and numbering started again (a test's flush, a restored
        backup; the global row's epoch says so): every row numbered in ``epoch`` is new.

        Nothing to restart while the follower knew no epoch (nothing was numbered when it
        started): ``epoch`` is the numbering it has been reading.
        """
        if not self.epoch:
            self.epoch = epoch
            return False
        self.epoch, self.buffer = epoch, {}
        if self.delivered is not None:
            self.delivered = 0
        for _, future in self.waiters:
            if not future.done():
                future.set_result(None)
        self.waiters = []
        return True

    def accept_soon(self, rows: list[Row]) -> None:
        """``accept`` from any thread."""
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody to deliver to
            self.loop.call_soon_threadsafe(self.accept, rows)

    async def settled(self, limit: float = 2.0) -> None:
        """Return once every row numbered before the call is delivered (or ``limit`` s pass).

        A subscription waits for it before joining its rooms, so the pushes it receives are
        the ones numbered after its reply's positions, not older ones delivered late.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                await self.ready.wait()
                epoch, top = await asyncio.shield(self.shared_head())
                if epoch != self.epoch:
                    self._restart(epoch)
                assert self.delivered is not None
                if top <= self.delivered:
                    return
                future = self.loop.create_future()
                self.waiters.append((top, future))
                self.wakeup.set()
                await future

    async def _read_head(self) -> tuple[str, int]:
        try:
            return await self._call(database.head)
        except Exception:
            # The follower's connection died with the database (a restart): that call
            # closed it, this one connects anew. A subscription should not pay for the
            # follower's connection.
            return await self._call(database.head)

    def _settle(self) -> None:
        delivered = self.delivered
        assert delivered is not None
        waiting = []
        for top, future in self.waiters:
            if top > delivered and not future.done():
                waiting.append((top, future))
            elif not future.done():
                future.set_result(None)
        self.waiters = waiting

    # -- the loop --------------------------------------------------------------------------

    async def _call(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on the follower's own thread, whose database connection stays open
        between reads (a connection per poll would cost more than the poll); a failure
        closes it, so the next call connects anew (a database restart costs one read)."""
        return await self.loop.run_in_executor(self.executor, _unit, fn, *args)

    async def _run(self) -> None:
        self.epoch, top = await self._retrying(database.head)
        # Rows of this process handed over while starting are its own: delivered all the same.
        self.delivered = min([top, *(seq - 1 for seq in self.buffer)])
        self.ready.set()
        self._listen()
        orphans_at = trim_at = time.monotonic()
        while True:
            await self._drain()
            poll, size, ttl = settings()
            if self.listener is not None and not self.listener.done():
                poll = max(poll, LISTENING_POLL)  # NOTIFY wakes it; the poll is a safety net
            gap = bool(self.buffer)
            if not gap:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), poll)
            self.wakeup.clear()
            await self._drain()
            now = time.monotonic()
            try:
                if now >= orphans_at:
                    orphans_at = now + ORPHANS_EVERY
                    self._take(await self._call(database.number, None, size))
                if now >= trim_at:
                    trim_at = now + TRIM_EVERY
                    await self._call(database.trim, ttl)
                epoch, top, rows = await self._call(database.read_after, self.delivered)
                if (epoch != self.epoch or top < self.delivered) and self._restart(epoch):
                    # The table was emptied (a test's flush, a restored backup): every row
                    # in it now is new. Read them all.
                    epoch, top, rows = await self._call(database.read_after, 0)
            except Exception as exc:
                self._failed(exc)
                await asyncio.sleep(poll)
                continue
            self._ok()
            self._take(rows)
            if gap and not rows and self.buffer:
                # Ahead of a gap that nothing fills: this process numbered rows in a
                # transaction that was rolled back (a test's). Nobody else will see them.
                self.delivered = min(self.buffer) - 1

    async def _drain(self) -> None:
        assert self.delivered is not None
        while self.buffer:
            row = self.buffer.pop(self.delivered + 1, None)
            if row is None:
                stale = [seq for seq in self.buffer if seq <= self.delivered]
                for seq in stale:
                    del self.buffer[seq]
                break
            self.delivered = row.seq
            await self._deliver(row)
        if self.waiters:
            self._settle()

    async def _deliver(self, row: Row) -> None:
        from djira.delivery.local import deliver_locally
        from djira.delivery.messages import Push, from_wire

        try:
            message = from_wire(djira_json.loads(row.payload))
        except ValueError:
            message = None
        if message is None:
            logger.warning("djira: outbox row %d is not a message djira understands", row.seq)
            return
        if isinstance(message, Push) and row.offset is not None:
            message = message._replace(epoch=row.epoch, offset=row.offset)
        try:
            await deliver_locally(self.server, message)
        except Exception:
            logger.exception("djira could not emit %r", message)

    async def _retrying(self, fn: Any) -> Any:
        while True:
            try:
                result = await self._call(fn)
            except Exception as exc:
                self._failed(exc)
                await asyncio.sleep(settings()[0] + 1)
                continue
            self._ok()
            return result

    def _failed(self, exc: BaseException) -> None:
        if not self.failing:
            self.failing = True
            logger.warning(
                "djira cannot read its outbox (%s: %s); pushes wait until the database is back.",
                type(exc).__name__,
                exc,
            )

    def _ok(self) -> None:
        if self.failing:
            self.failing = False
            logger.warning("djira reads its outbox again; delayed pushes follow.")

    def close(self) -> None:
        """Let go of the follower's thread and its database connection."""
        from django.db import connections

        self.executor.submit(connections[database.ALIAS].close)
        self.executor.shutdown(wait=False)

    # -- PostgreSQL NOTIFY -----------------------------------------------------------------

    def _listen(self) -> None:
        from django.db import connections

        if connections[database.ALIAS].vendor == "postgresql":
            self.listener = self.loop.create_task(self._hear())

    async def _hear(self) -> None:
        """Wake the follower when another process numbers rows; reconnects on errors."""
        import psycopg
        from django.db import connections

        params = connections[database.ALIAS].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("prepare_threshold", None)
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {database.NOTIFY_CHANNEL}")
                    self.wakeup.set()  # anything numbered while not listening
                    async for _ in conn.notifies():
                        self.wakeup.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("djira's outbox listener reconnects (%s)", exc)
            await asyncio.sleep(1.0)


def _unit(fn: Any, *args: Any) -> Any:
    from django.db import connections

    try:
        return fn(*args)
    except Exception:
        connections[database.ALIAS].close()
        raise


def get_follower(server: DjiraServer) -> Follower:
    """The server's follower, started on first use; must run on the server's loop."""
    follower = server.delivery.follower
    if follower is None or follower.loop is not asyncio.get_running_loop():
        if follower is not None:
            follower.close()  # its loop is gone (tests give each test a loop of its own)
        follower = server.delivery.follower = Follower(server)
    return follower
