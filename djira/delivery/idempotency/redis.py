"""The redis backend's idempotency store: one Redis string per key, expiring by itself.

The key is ``djira:<db>:idem:{<digest>}``: the braces make the digest its hash tag, so
Redis Cluster hashes it alone and each script below touches one slot. The value is the
owner's token (32 hex digits), the request's fingerprint (64), then the encoded reply
(empty while the request runs): fixed widths that a script compares without parsing.

- claim: ``SET key value NX PX`` ``CLAIM_SECONDS``; if it was there, ``GET`` it. An
  expired claim or reply is gone from Redis: its key is free again.
- finish and release: a script that writes or deletes only if the owner still holds it.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from djira.delivery.idempotency.base import CLAIM_SECONDS, Record
from djira.delivery.redis import channel_for, get_server_link

if TYPE_CHECKING:
    from djira.server import DjiraServer

OWNER = 32
FINGERPRINT = 64

# KEYS[1]: the key; ARGV: owner, new value, milliseconds to keep it.
FINISH = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, 32) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
# KEYS[1]: the key; ARGV[1]: owner.
RELEASE = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, 32) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def parse(value: bytes | str) -> Record:
    text = value.decode() if isinstance(value, bytes) else value
    reply = text[OWNER + FINGERPRINT :]
    return Record(text[:OWNER], text[OWNER : OWNER + FINGERPRINT], reply or None)


class RedisStore:
    """Idempotency keys in the Redis at ``REDIS_URL``, through the server's client."""

    def __init__(self, server: DjiraServer) -> None:
        link = get_server_link(server)
        assert link is not None, "The redis backend needs DJIRA_SETTINGS['REDIS_URL']."
        self.client: Any = link.client
        self.prefix = f"{channel_for(link.url)}:idem:"

    def name(self, key: str) -> str:
        return f"{self.prefix}{{{key}}}"

    async def claim(self, key: str, fingerprint: str, owner: str) -> Record | None:
        assert len(owner) == OWNER and len(fingerprint) == FINGERPRINT
        name = self.name(key)
        for _ in range(3):  # the key may expire between the SET and the GET
            if await self.client.set(name, owner + fingerprint, nx=True, px=_ms(CLAIM_SECONDS)):
                return None
            value = await self.client.get(name)
            if value is not None:
                return parse(value)
        raise RuntimeError("djira: an idempotency key changed hands three times in one claim")

    async def finish(self, key: str, owner: str, fingerprint: str, reply: str, ttl: float) -> None:
        value = owner + fingerprint + reply
        await self.client.eval(FINISH, 1, self.name(key), owner, value, _ms(ttl))

    async def release(self, key: str, owner: str) -> None:
        await self.client.eval(RELEASE, 1, self.name(key), owner)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


_stores: weakref.WeakKeyDictionary[DjiraServer, RedisStore] = weakref.WeakKeyDictionary()


def get_redis_store(server: DjiraServer) -> RedisStore:
    """The store for ``server``'s requests, on its link's client (a new link, a new store)."""
    store = _stores.get(server)
    link = get_server_link(server)
    if store is None or link is None or store.client is not link.client:
        store = _stores[server] = RedisStore(server)
    return store
