"""Rooms' streams in Redis (the redis backend): numbering and history, one Lua script per batch.

Keys ``djira:<db>:h:<observer uid>:<room>:m`` (a hash: epoch, last offset) and ``...:l`` (a
list: the kept pushes, oldest first). Numbering and storing are one atomic step, so every
server's pushes to a room get distinct, gapless offsets.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from djira import json as djira_json
from djira.delivery.history import (
    META_TTL,
    CatchUp,
    Entry,
    Position,
    catch_up,
    new_epoch,
    settings_size_ttl,
    stream_key,
)
from djira.delivery.redis_clients import is_cluster

if TYPE_CHECKING:
    from djira.delivery.messages import Push


# KEYS: one room's meta and list (one hash slot: the keys share a ``{tag}``). ARGV: size,
# ttl, meta ttl, now, new epoch, then one encoded [type, data] per push. Returns the epoch,
# then one offset per push. One script: numbering and storing are one atomic step, so every
# server's pushes to a room get distinct, gapless offsets.
APPEND = """
local size, ttl, meta_ttl, now, fresh = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local meta, list = KEYS[1], KEYS[2]
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = fresh
  redis.call('HSET', meta, 'e', epoch)
  redis.call('DEL', list)
end
local out = {epoch}
for i = 6, #ARGV do
  local offset = redis.call('HINCRBY', meta, 'o', 1)
  redis.call('RPUSH', list, offset .. ':' .. now .. ':' .. ARGV[i])
  out[#out + 1] = offset
end
redis.call('LTRIM', list, -size, -1)
redis.call('EXPIRE', list, ttl)
redis.call('EXPIRE', meta, meta_ttl)
return out
"""

# KEYS: meta, list. ARGV: the database's epoch. Returns epoch, top offset, the history.
# Writes nothing: a room nobody pushed to is at offset 0 of the database's epoch, which its
# first push starts (``APPEND``), so reading rooms (subscribing) stores no state.
READ = """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  return {ARGV[1], '0', {}}
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
        #: The database's epoch (``<prefix>:epoch``, set once): a new room's stream starts in
        #: it. Read once per process; a process that read another value (Redis lost its
        #: data meanwhile) only makes clients reload, never miss a push.
        self.epoch: str | None = None
        #: Streams a push could not be numbered in (Redis was unreachable): they are reset
        #: (a new epoch) before anything else reads or numbers them, so a client whose
        #: position lies before the failure is told ``recovered: false``, never that nothing
        #: was missed.
        self.broken: set[tuple[str, str]] = set()

    def mark_broken(self, pushes: Sequence[Push]) -> None:
        self.broken.update((push.observer, push.room) for push in pushes)

    def epoch_key(self) -> str:
        return f"{self.prefix}:epoch"

    def reset(self, pipe: Any) -> None:
        """Queue on ``pipe``: each broken stream restarts at offset 0 of a new epoch."""
        for observer, room in self.broken:
            meta, entries = self.keys(observer, room)
            pipe.delete(entries)
            pipe.hset(meta, mapping={"e": new_epoch(), "o": 0})
            pipe.expire(meta, int(max(self.ttl, META_TTL)))

    def resets(self, streams: set[tuple[str, str]]) -> list[Push]:
        """The pushes that tell a reset stream's live subscribers to reload (``reset``)."""
        from djira.delivery.messages import Push

        return [Push(observer, room, "reset", None) for observer, room in sorted(streams)]

    def append(self, client: Any, pipe: Any, keys: list[str], args: list[Any]) -> Any:
        """Queue ``APPEND`` on ``pipe``: by hash (registered on ``client`` once per store),
        or in full on Redis Cluster, whose pipelines cannot load a script on each node."""
        if is_cluster(self.url):
            pipe.eval(APPEND, len(keys), *keys, *args)
            return None  # queued (an async cluster pipeline is awaitable: not to be awaited)
        if self._append is None:
            self._append = client.register_script(APPEND)
        return self._append(keys=keys, args=args, client=pipe)

    def keys(self, observer: str, room: str) -> tuple[str, str]:
        # The stream's name in braces: Redis Cluster puts both keys in one hash slot (the
        # first ``{...}`` of a key), so one script may touch them. Both keys are the same up
        # to their suffix, so they share the slot whatever braces the room name holds.
        base = f"{self.prefix}:h:{{{stream_key(observer, room)}}}"
        return f"{base}:m", f"{base}:l"

    def calls(self, pushes: Sequence[Push]) -> list[tuple[list[str], list[Any], list[int]]]:
        """One ``APPEND`` per room: its keys, its arguments, and which pushes it numbers."""
        head: list[Any] = [self.size, max(1, int(self.ttl)), int(max(self.ttl, META_TTL))]
        head += [repr(time.time()), self.epoch or new_epoch()]
        rooms: dict[tuple[str, str], list[int]] = {}
        for i, push in enumerate(pushes):
            rooms.setdefault((push.observer, push.room), []).append(i)
        return [
            (
                list(self.keys(*room)),
                head + [djira_json.dumps([pushes[i].type, pushes[i].data]) for i in indexes],
                indexes,
            )
            for room, indexes in rooms.items()
        ]

    @staticmethod
    def stamped(
        pushes: Sequence[Push], calls: list[tuple[list[str], list[Any], list[int]]], outs: list[Any]
    ) -> list[Push]:
        numbered = list(pushes)
        for (_, _, indexes), out in zip(calls, outs, strict=True):
            epoch = _text(out[0])
            for i, offset in zip(indexes, out[1:], strict=True):
                numbered[i] = pushes[i]._replace(epoch=epoch, offset=int(offset))
        return numbered

    def read_result(
        self, stream: tuple[str, str], since: Position | None, out: list[Any]
    ) -> CatchUp:
        epoch, top, raw = _text(out[0]), int(out[1]), out[2]
        if stream in self.broken:
            # Pushes of this room went out unnumbered (Redis was away): nobody positioned in
            # its stream can be sure to have them.
            return CatchUp(Position(epoch, top), since is None)
        entries = [e for e in map(parse_entry, raw) if e is not None]
        return catch_up(since, epoch, top, entries, self.ttl)


async def reset_async(client: Any, history: RedisHistory) -> list[Push]:
    """Give the broken streams a new epoch (their keys go); the ``reset`` pushes that tell
    their live subscribers. Raises on Redis errors (the streams stay broken)."""
    if not history.broken:
        return []
    broken = set(history.broken)
    async with client.pipeline(transaction=False) as pipe:
        history.reset(pipe)  # one key per command: every room may be in another slot
        await pipe.execute()
    history.broken -= broken
    return history.resets(broken)


async def epoch_async(client: Any, history: RedisHistory) -> str:
    if history.epoch is None:
        await client.set(history.epoch_key(), new_epoch(), nx=True)
        history.epoch = _text(await client.get(history.epoch_key()))
    return history.epoch


def reset_sync(client: Any, history: RedisHistory) -> list[Push]:
    if not history.broken:
        return []
    broken = set(history.broken)
    pipe = client.pipeline(transaction=False)
    history.reset(pipe)
    pipe.execute()
    history.broken -= broken
    return history.resets(broken)


def epoch_sync(client: Any, history: RedisHistory) -> str:
    if history.epoch is None:
        client.set(history.epoch_key(), new_epoch(), nx=True)
        history.epoch = _text(client.get(history.epoch_key()))
    return history.epoch


def merge(messages: list[Any], numbered: list[Push]) -> list[Any]:
    """``messages`` with their pushes replaced by ``numbered`` ones, after the extra
    ``reset`` pushes numbering put first (``stamp_async``)."""
    from djira.delivery.messages import Push

    count = sum(isinstance(m, Push) for m in messages)
    extra, rest = numbered[: len(numbered) - count], iter(numbered[len(numbered) - count :])
    return [*extra, *(next(rest) if isinstance(m, Push) else m for m in messages)]


async def stamp_async(client: Any, history: RedisHistory, pushes: list[Push]) -> list[Push]:
    """Number and record ``pushes`` in Redis (one round trip, one script per room), after
    the ``reset`` pushes of streams that were broken; raises on Redis errors."""
    await epoch_async(client, history)
    pushes = [*await reset_async(client, history), *pushes]
    calls = history.calls(pushes)
    async with client.pipeline(transaction=False) as pipe:
        for keys, args, _ in calls:
            queued = history.append(client, pipe, keys, args)
            if queued is not None:  # redis-py's script call on an async pipeline
                await queued
        outs = await pipe.execute()
    return history.stamped(pushes, calls, outs)


def stamp_sync(client: Any, history: RedisHistory, pushes: list[Push]) -> list[Push]:
    epoch_sync(client, history)
    pushes = [*reset_sync(client, history), *pushes]
    calls = history.calls(pushes)
    pipe = client.pipeline(transaction=False)
    for keys, args, _ in calls:
        history.append(client, pipe, keys, args)
    return history.stamped(pushes, calls, pipe.execute())


async def read_async(
    client: Any, history: RedisHistory, observer: str, rooms: list[str], since: dict[str, Position]
) -> dict[str, CatchUp]:
    epoch = await epoch_async(client, history)
    async with client.pipeline(transaction=False) as pipe:
        for room in rooms:
            pipe.eval(READ, 2, *history.keys(observer, room), epoch)
        outs = await pipe.execute()
    return {
        room: history.read_result((observer, room), since.get(room), out)
        for room, out in zip(rooms, outs, strict=True)
    }


async def read_entries(client: Any, history: RedisHistory, observer: str, room: str) -> list[Entry]:
    """The kept pushes of one room, oldest first."""
    raw = await client.lrange(history.keys(observer, room)[1], 0, -1)
    return [e for e in map(parse_entry, raw) if e is not None]


def redis_history(url: str, prefix: str) -> RedisHistory | None:
    size, ttl = settings_size_ttl()
    return RedisHistory(url, prefix, size, ttl) if size > 0 else None
