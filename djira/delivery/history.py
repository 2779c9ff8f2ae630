"""Each room's stream of pushes: positions, and a short history to catch up after a drop.

Every push of an observer's room gets a **position** in that room's stream: an ``offset``
that grows by one per push, and the stream's ``epoch``, a random name given when the stream
starts (a new process without Redis, a Redis stream that expired). A client that saw
``(epoch, offset)`` and lost its connection resubscribes with it (``since``); the server
sends what the room pushed after it, from a history kept per room, bounded in count
(``HISTORY_SIZE``) and in age (``HISTORY_TTL`` seconds). When the history no longer reaches
back (trimmed, expired, another epoch), the reply says ``recovered: false`` so the client
reloads instead of silently missing changes.

A stream is named by the observer's uid and the user-level room, like a push: every hook
name and route subscribed to that observer shares it.

Two stores:

- ``MemoryHistory`` for a process without ``REDIS_URL``: the outbox's single task numbers
  pushes as it delivers them, so order and numbering agree by construction.
- ``RedisHistory`` when ``REDIS_URL`` is set: numbering and history live in Redis (one Lua
  script per batch, atomic), so every server agrees on offsets and any of them can serve a
  client's catch-up, whichever server it reconnects to.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from djira import exceptions
from djira import json as djira_json

if TYPE_CHECKING:
    from djira.observers.transport import Push
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

#: How long a stream's epoch and last offset outlive its last push (seconds), at least:
#: a client idle for longer than ``HISTORY_TTL`` that missed nothing still recovers.
META_TTL = 86_400


class Entry(NamedTuple):
    """One push in a room's history."""

    offset: int
    time: float  # wall clock (``time.time()``): servers may compare each other's entries
    type: str
    data: Any


class Position(NamedTuple):
    epoch: str
    offset: int

    def as_wire(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "offset": self.offset}


@dataclass
class CatchUp:
    """What a subscription's ``since`` gives for one room."""

    position: Position  # the room's stream, now
    recovered: bool  # whether ``entries`` are everything the client missed
    entries: list[Entry] = field(default_factory=list)


def new_epoch() -> str:
    return uuid.uuid4().hex[:12]


def stream_key(observer: str, room: str) -> str:
    # An observer's uid has no colon (module, class, attribute), so this names one stream.
    return f"{observer}:{room}"


def parse_since(value: Any) -> dict[str, Position]:
    """A request's ``since``: ``{room: {"epoch": str, "offset": int >= 0}}`` (400 otherwise)."""
    if value is None:
        return {}
    error = exceptions.ParseError(
        'Field \'since\' must be an object of {room: {"epoch": string, "offset": integer}}.'
    )
    if not isinstance(value, dict):
        raise error
    since: dict[str, Position] = {}
    for room, position in value.items():
        if not isinstance(position, dict):
            raise error
        epoch, offset = position.get("epoch"), position.get("offset")
        if not isinstance(epoch, str) or not isinstance(offset, int) or isinstance(offset, bool):
            raise error
        if offset < 0:
            raise error
        since[room] = Position(epoch, offset)
    return since


def catch_up(
    since: Position | None, epoch: str, top: int, entries: Sequence[Entry], ttl: float
) -> CatchUp:
    """Decide what a client at ``since`` missed, given the stream's state now.

    ``entries`` are the stream's history in offset order (contiguous, the newest is ``top``).
    """
    position = Position(epoch, top)
    if since is None:
        return CatchUp(position, True)
    if since.epoch != epoch or since.offset > top:
        return CatchUp(position, False)
    if since.offset == top:
        return CatchUp(position, True)
    oldest = time.time() - ttl
    kept = [e for e in entries if e.time >= oldest]
    # Expired entries are the oldest ones: what is left is still contiguous up to ``top``.
    if not kept or kept[0].offset > since.offset + 1:
        return CatchUp(position, False)
    return CatchUp(position, True, [e for e in kept if e.offset > since.offset])


# -- one process -------------------------------------------------------------------------


class _Stream:
    __slots__ = ("epoch", "top", "entries", "touched")

    def __init__(self, size: int) -> None:
        self.epoch = new_epoch()
        self.top = 0
        self.entries: deque[Entry] = deque(maxlen=size)
        self.touched = time.monotonic()


class MemoryHistory:
    """The streams of one process's rooms. Used from the server's loop only (no lock)."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        # Least recently pushed first: streams idle for ``META_TTL`` are forgotten.
        self.streams: OrderedDict[str, _Stream] = OrderedDict()

    def _stream(self, key: str) -> _Stream:
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = _Stream(self.size)
        return stream

    def _forget_idle(self, now: float) -> None:
        limit = now - max(self.ttl, META_TTL)
        while self.streams:
            key, stream = next(iter(self.streams.items()))
            if stream.touched >= limit:
                break
            del self.streams[key]

    def stamp(self, push: Push) -> Push:
        """``push`` with its position; recorded in its room's history."""
        key = stream_key(push.observer, push.room)
        stream = self._stream(key)
        stream.top += 1
        stream.touched = now = time.monotonic()
        self.streams.move_to_end(key)
        stream.entries.append(Entry(stream.top, time.time(), push.type, push.data))
        self._forget_idle(now)
        return push._replace(epoch=stream.epoch, offset=stream.top)

    def read(
        self, observer: str, rooms: list[str], since: dict[str, Position]
    ) -> dict[str, CatchUp]:
        result = {}
        for room in rooms:
            stream = self._stream(stream_key(observer, room))
            entries = list(stream.entries)
            result[room] = catch_up(since.get(room), stream.epoch, stream.top, entries, self.ttl)
        return result


# -- every process, through Redis ------------------------------------------------------------

# KEYS: (meta, list) per push. ARGV: size, ttl, meta ttl, now, new epoch, then one encoded
# [type, data] per push. Returns epoch, offset per push. One script: numbering and storing
# are one atomic step, so every server's pushes to a room get distinct, gapless offsets.
APPEND = """
local size, ttl, meta_ttl, now, fresh = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local out = {}
for i = 1, #KEYS, 2 do
  local meta, list = KEYS[i], KEYS[i + 1]
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = fresh
    redis.call('HSET', meta, 'e', epoch)
    redis.call('DEL', list)
  end
  local offset = redis.call('HINCRBY', meta, 'o', 1)
  redis.call('RPUSH', list, offset .. ':' .. now .. ':' .. ARGV[5 + (i + 1) / 2])
  redis.call('LTRIM', list, -size, -1)
  redis.call('EXPIRE', list, ttl)
  redis.call('EXPIRE', meta, meta_ttl)
  out[#out + 1] = epoch
  out[#out + 1] = offset
end
return out
"""

# KEYS: meta, list. ARGV: new epoch, meta ttl. Returns epoch, top offset, the history.
# Starts the stream if needed, so the position a first subscriber gets is the one its next
# pushes continue.
READ = """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
end
local top = redis.call('HGET', KEYS[1], 'o') or '0'
return {epoch, top, redis.call('LRANGE', KEYS[2], 0, -1)}
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def parse_entry(raw: bytes | str) -> Entry | None:
    try:
        offset, at, payload = _text(raw).split(":", 2)
        kind, data = djira_json.loads(payload)
        return Entry(int(offset), float(at), str(kind), data)
    except ValueError:
        return None


class RedisHistory:
    """Numbering and history in Redis: ``djira:<db>:h:<observer uid>:<room>:m`` (a hash:
    epoch, last offset) and ``...:l`` (a list: the kept pushes, oldest first)."""

    def __init__(self, url: str, prefix: str, size: int, ttl: float) -> None:
        self.url = url
        self.prefix = prefix
        self.size = size
        self.ttl = ttl
        self._append: Any = None
        #: Streams a push could not be numbered in (Redis was unreachable): they are reset
        #: (a new epoch) before anything else reads or numbers them, so a client whose
        #: position lies before the failure is told ``recovered: false``, never that nothing
        #: was missed.
        self.broken: set[tuple[str, str]] = set()

    def mark_broken(self, pushes: Sequence[Push]) -> None:
        self.broken.update((push.observer, push.room) for push in pushes)

    def reset_keys(self) -> list[str]:
        return [key for stream in self.broken for key in self.keys(*stream)]

    def append_script(self, client: Any) -> Any:
        """``APPEND`` registered on ``client`` (one per store): sent by hash, not in full."""
        if self._append is None:
            self._append = client.register_script(APPEND)
        return self._append

    def keys(self, observer: str, room: str) -> tuple[str, str]:
        base = f"{self.prefix}:h:{stream_key(observer, room)}"
        return f"{base}:m", f"{base}:l"

    def append_args(self, pushes: Sequence[Push]) -> tuple[list[str], list[Any]]:
        keys: list[str] = []
        args: list[Any] = [self.size, max(1, int(self.ttl)), int(max(self.ttl, META_TTL))]
        args += [repr(time.time()), new_epoch()]
        for push in pushes:
            keys += self.keys(push.observer, push.room)
        args += [djira_json.dumps([push.type, push.data]) for push in pushes]
        return keys, args

    @staticmethod
    def stamped(pushes: Sequence[Push], out: list[Any]) -> list[Push]:
        return [
            push._replace(epoch=_text(out[2 * i]), offset=int(out[2 * i + 1]))
            for i, push in enumerate(pushes)
        ]

    def read_result(self, since: Position | None, out: list[Any]) -> CatchUp:
        epoch, top, raw = _text(out[0]), int(out[1]), out[2]
        entries = [e for e in map(parse_entry, raw) if e is not None]
        return catch_up(since, epoch, top, entries, self.ttl)


async def reset_async(client: Any, history: RedisHistory) -> None:
    """Give the broken streams a new epoch (their keys go); raises on Redis errors."""
    if history.broken:
        broken = set(history.broken)
        async with client.pipeline(transaction=False) as pipe:
            for key in history.reset_keys():
                pipe.delete(key)  # one key per command: every key may be in another slot
            await pipe.execute()
        history.broken -= broken


def reset_sync(client: Any, history: RedisHistory) -> None:
    if history.broken:
        broken = set(history.broken)
        pipe = client.pipeline(transaction=False)
        for key in history.reset_keys():
            pipe.delete(key)
        pipe.execute()
        history.broken -= broken


async def stamp_async(client: Any, history: RedisHistory, pushes: list[Push]) -> list[Push]:
    """Number and record ``pushes`` in Redis (one round trip); raises on Redis errors."""
    await reset_async(client, history)
    keys, args = history.append_args(pushes)
    out = await history.append_script(client)(keys=keys, args=args)
    return history.stamped(pushes, out)


def stamp_sync(client: Any, history: RedisHistory, pushes: list[Push]) -> list[Push]:
    reset_sync(client, history)
    keys, args = history.append_args(pushes)
    out = history.append_script(client)(keys=keys, args=args)
    return history.stamped(pushes, out)


async def read_async(
    client: Any, history: RedisHistory, observer: str, rooms: list[str], since: dict[str, Position]
) -> dict[str, CatchUp]:
    await reset_async(client, history)
    async with client.pipeline(transaction=False) as pipe:
        for room in rooms:
            pipe.eval(READ, 2, *history.keys(observer, room), new_epoch(), META_TTL)
        outs = await pipe.execute()
    return {
        room: history.read_result(since.get(room), out)
        for room, out in zip(rooms, outs, strict=True)
    }


# -- the server's side ---------------------------------------------------------------------


def settings_size_ttl() -> tuple[int, float]:
    from djira.settings import jira_settings

    return int(jira_settings.HISTORY_SIZE), float(jira_settings.HISTORY_TTL)


def get_memory_history(server: DjiraServer) -> MemoryHistory | None:
    """This server's in-process history, or ``None`` when ``HISTORY_SIZE`` is 0."""
    size, ttl = settings_size_ttl()
    if size <= 0:
        return None
    history: MemoryHistory | None = getattr(server, "djira_history", None)
    if history is None or (history.size, history.ttl) != (size, ttl):
        history = server.djira_history = MemoryHistory(size, ttl)
    return history


def redis_history(url: str, prefix: str) -> RedisHistory | None:
    size, ttl = settings_size_ttl()
    return RedisHistory(url, prefix, size, ttl) if size > 0 else None


async def stamp_on_server(server: DjiraServer, messages: list[Any]) -> list[Any]:
    """``messages`` with their pushes numbered (on the server's loop, by its outbox).

    Through Redis when ``REDIS_URL`` is set: one round trip per batch, before the local
    sockets get it, since their push carries its offset. While Redis is down (or slow past
    its timeout), pushes go out unnumbered: a client resubscribing after them is told it
    could not recover.
    """
    from djira.delivery import backend_kind
    from djira.observers.redis import get_server_link
    from djira.observers.transport import Push

    pushes = [m for m in messages if isinstance(m, Push)]
    kind = backend_kind()
    if not pushes or kind == "database":  # the database numbered them already
        return messages
    link = get_server_link(server) if kind == "redis" else None
    if link is None:
        memory = get_memory_history(server)
        if memory is None:
            return messages
        return [memory.stamp(m) if isinstance(m, Push) else m for m in messages]
    store = link.history
    if store is None:
        return messages
    if not link.health.should_try():
        store.mark_broken(pushes)
        return messages
    try:
        numbered = iter(await stamp_async(link.client, store, pushes))
    except Exception as exc:  # redis' errors, OSError: the pushes still go out, unnumbered
        # ... and their streams are reset once Redis is back: no catch-up across the gap.
        store.mark_broken(pushes)
        link.health.failed(exc)
        return messages
    return [next(numbered) if isinstance(m, Push) else m for m in messages]


async def read_on_server(
    server: DjiraServer, observer: str, rooms: list[str], since: dict[str, Position]
) -> dict[str, CatchUp] | None:
    """Each room's position, and what a client at ``since`` missed; ``None`` if unknown."""
    from djira.delivery import backend_kind
    from djira.observers.redis import get_server_link

    kind = backend_kind()
    if kind == "database":
        return await read_database(observer, rooms, since)
    link = get_server_link(server) if kind == "redis" else None
    if link is None:
        memory = get_memory_history(server)
        return None if memory is None else memory.read(observer, rooms, since)
    if link.history is None or not rooms:
        return None if link.history is None else {}
    try:
        return await read_async(link.client, link.history, observer, rooms, since)
    except Exception as exc:
        link.health.failed(exc)
        return None


async def read_database(
    observer: str, rooms: list[str], since: dict[str, Position]
) -> dict[str, CatchUp] | None:
    """``read_on_server`` for the database backend (one worker-thread hop); ``None`` while
    the database cannot be read, or with ``HISTORY_SIZE`` 0."""
    from djira.delivery import database
    from djira.sync import run_sync

    size, ttl = settings_size_ttl()
    if size <= 0:
        return None
    keys = {room: stream_key(observer, room) for room in rooms}
    after = {keys[room]: position.offset for room, position in since.items() if room in keys}
    try:
        found = await run_sync(database.history, list(keys.values()), after)
    except Exception:
        logger.exception("djira could not read the rooms' history from its outbox")
        return None
    result = {}
    for room, key in keys.items():
        epoch, top, rows = found[key]
        entries = []
        for offset, created, payload in rows:
            wire = djira_json.loads(payload)
            entries.append(Entry(offset, created, str(wire.get("t")), wire.get("d")))
        result[room] = catch_up(since.get(room), epoch, top, entries, ttl)
    return result
