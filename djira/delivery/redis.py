"""The redis backend's transport: how pushes cross processes, and how its faults are told.

Why a stream of djira's own instead of python-socketio's ``RedisManager`` messages: a
manager message is an emit whose event name and rooms the publisher has already decided.
A push must be decided by each receiving server instead (the hook name and route its
sockets subscribed through, which a shell or a worker cannot know). So djira appends its
own messages (``Push`` addressed by observer identity, ``Emit``) to the Redis Stream
``djira:<db>:log`` and each server reads it on from the last entry it saw. Servers still
use python-socketio's ``AsyncRedisManager`` for python-socketio's own cross-process
features (``djira.delivery.redis_manager``); djira's emits go to local sockets with
``ignore_queue=True`` so they are never sent twice.

Delivery between processes is at least once: a server that was away (a reconnect, a
failover, an outage) reads what was appended meanwhile, within the stream's length
(``STREAM_LENGTH`` entries). A server delivers each room's pushes once and in offset order
(``Seen``): a push whose predecessor has not arrived yet (another process numbered it
first, and its entry is still on the way) waits; after ``REPAIR_AFTER`` the missing pushes
are fetched from the room's history, and those it no longer has are announced to the
room's sockets with a ``reset`` push, never skipped silently.

Faults are said once: one warning when Redis becomes unreachable (naming the URL and the
cause), one when it is reachable again (with how many messages were lost), whatever the
number of pushes or reconnection attempts in between. A server's link (its client and its
``Health``) serves its pushes, rooms' history and presence alike, so they share that state.
A read blocks at most ``BLOCK`` seconds, under the client's ``TIMEOUT``: a connection that
died without being closed times out and is replaced, an outage like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict, deque
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from djira import json as djira_json
from djira.delivery.local import deliver_locally
from djira.delivery.messages import Message, Push, from_wire, to_wire
from djira.delivery.redis_clients import connect, database
from djira.delivery.redis_history import merge, read_entries, redis_history, stamp_sync

if TYPE_CHECKING:
    from djira.delivery.history import Position
    from djira.server import DjiraServer

logger = logging.getLogger("djira.redis")

#: One Redis message carries at most this many pushes (a 1,000-row transaction is 10).
CHUNK = 100
#: Messages a server keeps for publishing while Redis is slow; beyond, the oldest go.
MAX_PENDING = 10_000
#: Connect and I/O timeouts: a Redis that hangs must not hang a save for long.
TIMEOUT = 2.0
#: Retry delays while Redis is down (seconds): first, then doubling up to the last. The last
#: is also how long pushes between processes may stay lost once Redis is back: keep it short.
FIRST_RETRY, LAST_RETRY = 0.5, 5.0
#: The listener pings Redis after this many seconds without hearing from it, and gives its
#: connection up when nothing answers within ``TIMEOUT``: a connection that died silently (a
#: failover, a NAT that dropped its state, a proxy that stopped forwarding) closes nothing, so
#: only an unanswered ping tells. Noticed within ``SILENCE + TIMEOUT`` seconds.
SILENCE = 3.0
#: Entries the log stream keeps (approximately, ``XADD MAXLEN ~``): how far back a server
#: that was away reads on. At 1 kB an entry, 100 MB of Redis memory at most.
STREAM_LENGTH = 100_000
#: How long one read waits for new entries (seconds); under ``TIMEOUT``, so a dead
#: connection shows as a timeout.
BLOCK = 1.0
#: Rooms whose last delivered position a server remembers (least recently pushed go first).
POSITIONS = 100_000
#: How long (seconds) a server waits for a room's missing push before fetching it from the
#: room's history.
REPAIR_AFTER = 1.0

_host: tuple[int, str] = (0, "")


def host_id() -> str:
    """Identifies this process's messages, so a server skips its own (already delivered).

    Per process id: workers forked from one parent (gunicorn ``--preload``) differ.
    """
    global _host
    pid = os.getpid()
    if _host[0] != pid:
        _host = (pid, uuid.uuid4().hex)
    return _host[1]


def channel_for(url: str) -> str:
    """``djira:<db>``: the prefix of djira's keys (and python-socketio's channel names)."""
    return f"djira:{database(url)}"


def log_for(url: str) -> str:
    """The log stream every server reads: ``djira:<db>:log``."""
    return f"{channel_for(url)}:log"


def encode(messages: list[Message]) -> list[str]:
    """Redis messages for ``messages``, in order, ``CHUNK`` pushes each."""
    wire = [to_wire(m) for m in messages]
    host = host_id()
    return [
        djira_json.dumps({"h": host, "m": wire[i : i + CHUNK]}) for i in range(0, len(wire), CHUNK)
    ]


class Health:
    """Up/down state of one Redis for one process; logs each transition once."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.down_since: float | None = None
        self.lost = 0
        self.retry_at = 0.0
        self.delay = FIRST_RETRY
        self.lock = threading.Lock()

    def should_try(self) -> bool:
        """While down, Redis is tried again only once the back-off delay has passed."""
        return self.down_since is None or time.monotonic() >= self.retry_at

    def failed(self, exc: BaseException, lost: int = 0) -> None:
        with self.lock:
            self.lost += lost
            now = time.monotonic()
            if self.down_since is None:
                self.down_since, self.delay = now, FIRST_RETRY
                logger.warning(
                    "Redis at %s is unreachable (%s: %s): pushes between processes are lost "
                    "until it is back; each server still pushes to its own sockets.",
                    self.url,
                    type(exc).__name__,
                    exc,
                )
            else:
                self.delay = min(self.delay * 2, LAST_RETRY)
            self.retry_at = now + self.delay

    def dropped(self, count: int) -> None:
        with self.lock:
            self.lost += count

    def ok(self) -> None:
        if self.down_since is None:
            return
        with self.lock:
            if self.down_since is None:
                return
            seconds, lost = time.monotonic() - self.down_since, self.lost
            self.down_since, self.lost = None, 0
        logger.warning(
            "Redis at %s is reachable again after %.1f s; %d push(es) could not be published.",
            self.url,
            seconds,
            lost,
        )


class Publisher:
    """Publishes from processes without a server loop (shells, workers, WSGI), in order.

    Synchronous, from the committing thread; a lock keeps one process's messages in order.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.channel = channel_for(url)
        self.log = log_for(url)
        self.health = Health(url)
        self.client = connect(url, TIMEOUT)
        self.lock = threading.Lock()
        #: Rooms' streams (``history``): pushes are numbered in Redis before publishing.
        self.history = redis_history(url, self.channel)

    def publish(self, messages: list[Message]) -> None:
        if not messages:
            return
        if not self.health.should_try():
            self._lost(messages)
            return
        with self.lock:
            try:
                if self.history is not None and any(isinstance(m, Push) for m in messages):
                    # Under the lock: this process's offsets follow its publishing order.
                    # Numbered, then encoded once; an unencodable push fails at either step
                    # as a push of its own, not as Redis.
                    messages = self._stamped(messages)
                payloads = encode(messages)
            except (TypeError, ValueError):
                logger.exception("djira cannot encode a push for Redis; dropped")
                return
            except Exception as exc:  # numbering: Redis' errors
                self._lost(messages)
                self.health.failed(exc)
                return
            try:
                pipe = self.client.pipeline(transaction=False)
                for payload in payloads:
                    pipe.xadd(self.log, {"m": payload}, maxlen=STREAM_LENGTH, approximate=True)
                pipe.execute()
            except Exception as exc:  # redis' errors, OSError: never into the caller's save
                self.health.failed(exc, len(messages))
                return
        self.health.ok()

    def _lost(self, messages: list[Message]) -> None:
        """Pushes that could not be numbered: their streams are reset on the next publish
        from this process (a process that exits first leaves the gap unmarked: the
        database backend has no such gap)."""
        self.health.dropped(len(messages))
        if self.history is not None:
            self.history.mark_broken([m for m in messages if isinstance(m, Push)])

    def _stamped(self, messages: list[Message]) -> list[Message]:
        assert self.history is not None
        pushes = [m for m in messages if isinstance(m, Push)]
        return merge(messages, stamp_sync(self.client, self.history, pushes))


@lru_cache(maxsize=4)
def sync_client(url: str) -> Any:
    """The process's synchronous client for ``url``, with timeouts (the console's reads)."""
    return connect(url, TIMEOUT)


@lru_cache(maxsize=4)
def get_publisher(url: str) -> Publisher:
    """The process's publisher for ``url`` (redis-py reconnects after a fork by itself)."""
    return Publisher(url)


class ServerLink:
    """A server's side of the channel: a publishing task and a listening task.

    Both run on the server's loop and share one ``Health``, so an outage is told once.
    """

    def __init__(self, server: DjiraServer, url: str) -> None:
        self.server = server
        self.url = url
        self.channel = channel_for(url)
        self.log = log_for(url)
        self.health = Health(url)
        self.client = connect(url, TIMEOUT, asynchronous=True)
        self.pending: deque[Message] = deque()
        self.wakeup = asyncio.Event()
        self.ready = asyncio.Event()
        #: Rooms' streams (``history``), numbered by the outbox before delivery.
        self.history = redis_history(url, self.channel)
        self.publisher: asyncio.Task[None] | None = None
        self.listener: asyncio.Task[None] | None = None
        #: (observer, room) -> (epoch, offset) of the last push delivered here.
        self.positions: OrderedDict[tuple[str, str], Seen] = OrderedDict()
        #: Rooms with offsets missing here (a push overtook another, or one was lost).
        self.gaps: set[tuple[str, str]] = set()

    # -- publishing ------------------------------------------------------------------------

    def publish(self, messages: list[Message]) -> None:
        """Queue ``messages`` for the channel; must run on the server's loop."""
        if not messages:
            return
        overflow = len(self.pending) + len(messages) - MAX_PENDING
        for _ in range(max(overflow, 0)):
            self.pending.popleft()
        if overflow > 0:
            self.health.dropped(overflow)
        self.pending.extend(messages)
        self.wakeup.set()
        if self.publisher is None or self.publisher.done():
            self.publisher = asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        while True:
            while self.pending:
                batch = [self.pending.popleft() for _ in range(min(len(self.pending), CHUNK))]
                if not self.health.should_try():
                    self.health.dropped(len(batch))
                    continue
                try:
                    payloads = encode(batch)
                except (TypeError, ValueError):
                    logger.exception("djira cannot encode a push for Redis; dropped")
                    continue
                try:
                    async with self.client.pipeline(transaction=False) as pipe:
                        for payload in payloads:
                            pipe.xadd(
                                self.log, {"m": payload}, maxlen=STREAM_LENGTH, approximate=True
                            )
                        await pipe.execute()
                except Exception as exc:
                    self.health.failed(exc, len(batch))
                    continue
                self.health.ok()
            self.wakeup.clear()
            await self.wakeup.wait()

    # -- listening -------------------------------------------------------------------------

    def listen(self) -> None:
        """Start listening, if not yet; must run on the server's loop."""
        if self.listener is None or self.listener.done():
            self.listener = asyncio.get_running_loop().create_task(self._listen())

    async def listening(self) -> None:
        """Start listening if needed; return once reading (or Redis is known down)."""
        self.listen()
        # Redis is slow: subscribing must not wait for it longer; the listener goes on.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), TIMEOUT)

    async def _listen(self) -> None:
        last: str | None = None  # the last entry read; None: start at the stream's end
        while True:
            try:
                if last is None:
                    newest: Any = await self.client.xrevrange(self.log, count=1)
                    last = _text(newest[0][0]) if newest else "0-0"
                else:
                    await self._check_kept(last)
                self.health.ok()
                self.ready.set()
                while True:
                    # Shorter while pushes wait behind a gap: its repair is due soon.
                    block = REPAIR_AFTER / 4 if self.gaps else BLOCK
                    found: Any = await self.client.xread(
                        {self.log: last}, count=CHUNK, block=int(block * 1000)
                    )
                    self.health.ok()
                    for _, entries in found or ():
                        for entry_id, fields in entries:
                            last = _text(entry_id)
                            await self._receive(fields.get(b"m") or fields.get("m") or b"")
                    await self._repair()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.health.failed(exc)
                self.ready.set()  # known down: subscriptions go ahead without waiting
                await asyncio.sleep(self.health.delay)

    async def _check_kept(self, last: str) -> None:
        """After an outage: say so if the stream no longer reaches back to ``last``."""
        oldest: Any = await self.client.xrange(self.log, count=1)
        if oldest and _stream_id(_text(oldest[0][0])) > _stream_id(last):
            logger.warning(
                "djira's log stream in Redis no longer holds what followed the last entry "
                "this server read (Redis lost its data, or the server was away past the "
                "stream's %d entries): other processes' pushes meanwhile were not delivered "
                "here; rooms whose history still has them are caught up at their next push.",
                STREAM_LENGTH,
            )

    def admit(self, messages: list[Message]) -> list[Message]:
        """What of ``messages`` this server's sockets may get now, in each room's order.

        A numbered push whose room has an offset missing here waits for it (another
        process numbered it first but its entry is still on the way): sockets get each
        room's pushes in offset order, and each push once.
        """
        out: list[Message] = []
        for message in messages:
            if isinstance(message, Push) and message.offset is not None:
                out.extend(self._order(message))
            else:
                out.append(message)
        return out

    def known(self, observer: str, room: str, position: Position) -> None:
        """A subscription read the room at ``position``: pushes after it are new here."""
        key = (observer, room)
        seen = self.positions.get(key)
        if seen is None or seen.epoch != position.epoch:
            self.positions[key] = Seen(position.epoch, position.offset)

    def _seen(self, push: Push) -> Seen:
        key = (push.observer, push.room)
        seen = self.positions.get(key)
        if seen is None or seen.epoch != push.epoch:
            # A room new here (or a new epoch): it starts just before this push.
            seen = self.positions[key] = Seen(str(push.epoch), (push.offset or 1) - 1)
        self.positions.move_to_end(key)
        if len(self.positions) > POSITIONS:
            self.positions.popitem(last=False)
        return seen

    async def _receive(self, raw: bytes | str) -> None:
        try:
            envelope = djira_json.loads(raw)
        except ValueError:
            return
        if not isinstance(envelope, dict) or envelope.get("h") == host_id():
            return  # ours: admitted locally before it was published
        messages = [m for m in map(from_wire, envelope.get("m") or ()) if m is not None]
        # The log is read at least once: a push admitted already is not delivered again.
        for message in self.admit(messages):
            await self._deliver(message)

    def _order(self, push: Push) -> list[Push]:
        seen = self._seen(push)
        ready = seen.take(push)
        if seen.held:
            self.gaps.add((push.observer, push.room))
        return ready

    async def _deliver(self, message: Message) -> None:
        try:
            await deliver_locally(self.server, message)
        except Exception:
            logger.exception("djira could not emit %r received from Redis", message)

    async def _repair(self) -> None:
        """Deliver, from the rooms' history, pushes still missing here after ``REPAIR_AFTER``.

        Another process's push may come later than the next one (each process appends its
        own entries): a gap is waited for a moment before it is taken for a loss.
        """
        if self.history is None:
            return
        due = time.monotonic() - REPAIR_AFTER
        for observer, room in list(self.gaps):
            seen = self.positions.get((observer, room))
            if seen is None or seen.gap_since is None:
                self.gaps.discard((observer, room))
                continue
            if seen.gap_since > due:
                continue
            try:
                entries = await read_entries(self.client, self.history, observer, room)
            except Exception as exc:
                self.health.failed(exc)
                return
            ready: list[Push] = []
            for entry in entries:
                if entry.offset > seen.top and entry.offset not in seen.held:
                    push = Push(observer, room, entry.type, entry.data)
                    ready += seen.take(push._replace(epoch=seen.epoch, offset=entry.offset))
            if seen.held:
                # The history no longer has them (or never had: a writer died between
                # numbering and appending): nobody can deliver them. The room's sockets
                # are told to reload, then get what follows.
                logger.warning(
                    "djira: pushes %d-%d of room %r (%s) are lost; its subscribers are told "
                    "to reload",
                    seen.top + 1,
                    min(seen.held) - 1,
                    room,
                    observer,
                )
                ready += [Push(observer, room, "reset", None), *seen.give_up()]
            for push in ready:
                await self._deliver(push)
            self.gaps.discard((observer, room))


class Seen:
    """One room's stream on this server: every offset up to ``top`` was delivered; pushes
    in ``held`` wait behind a gap (since ``gap_since``)."""

    __slots__ = ("epoch", "top", "held", "gap_since")

    def __init__(self, epoch: str, top: int) -> None:
        self.epoch = epoch
        self.top = top
        self.held: dict[int, Push] = {}
        self.gap_since: float | None = None

    def take(self, push: Push) -> list[Push]:
        """``push`` and the held pushes it lets through, in order; ``[]`` if it was
        delivered already or must wait."""
        offset = push.offset or 0
        if offset <= self.top or offset in self.held:
            return []
        self.held[offset] = push
        return self._release()

    def give_up(self) -> list[Push]:
        """Skip the offsets missing below the first held push; what that lets through."""
        if self.held:
            self.top = min(self.held) - 1
        self.gap_since = None
        return self._release()

    def _release(self) -> list[Push]:
        ready = []
        while self.top + 1 in self.held:
            self.top += 1
            ready.append(self.held.pop(self.top))
        if not self.held:
            self.gap_since = None
        elif self.gap_since is None:
            self.gap_since = time.monotonic()
        return ready


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def get_server_link(server: DjiraServer) -> ServerLink | None:
    """The server's link to ``REDIS_URL`` (created on first use, on its loop), or ``None``."""
    from djira.settings import jira_settings

    url = jira_settings.REDIS_URL
    if not url:
        return None
    link = server.delivery.link
    if link is None or link.url != url:
        link = server.delivery.link = ServerLink(server, url)
    return link
