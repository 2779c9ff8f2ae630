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

if TYPE_CHECKING:
    from djira.delivery.messages import Push


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


def redis_history(url: str, prefix: str) -> RedisHistory | None:
    size, ttl = settings_size_ttl()
    return RedisHistory(url, prefix, size, ttl) if size > 0 else None
