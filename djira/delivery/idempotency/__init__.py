"""Where idempotency keys are kept: one store per delivery backend (``backend_kind()``).

A key goes through two states. A request **claims** it (the key is free, or its last claim
or reply expired): the claim names its owner, a random token, and the request's
fingerprint, and lasts ``CLAIM_SECONDS``. The owner then **finishes** it with the encoded
reply, kept for ``IDEMPOTENCY_TTL`` seconds, or **releases** it (the reply says "try again":
429, 503). Every step names the owner, so a request whose claim expired and was taken over
by another cannot overwrite the newer one's reply.

- ``memory``: a dict on the server (one process; nothing survives a restart);
- ``database``: the ``djira_idempotency`` table (``djira.delivery.idempotency.database``);
- ``redis``: one key per idempotency key, ``SET NX PX`` (``djira.delivery.idempotency.redis``).

Keys reach a store already scoped and hashed (``djira.idempotency.store_key``): a store
never sees a user or a client's key.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from djira.delivery import backend_kind
from djira.delivery.idempotency.base import CLAIM_SECONDS, Record, Store
from djira.delivery.idempotency.memory import MemoryStore

if TYPE_CHECKING:
    from djira.server import DjiraServer

__all__ = ["CLAIM_SECONDS", "MemoryStore", "Record", "Store", "get_store"]

_memory: weakref.WeakKeyDictionary[DjiraServer, MemoryStore] = weakref.WeakKeyDictionary()


def get_store(server: DjiraServer) -> Store:
    """The store of the configured backend, for requests served by ``server``."""
    kind = backend_kind()
    if kind == "database":
        from djira.delivery.idempotency.database import get_database_store

        return get_database_store()
    if kind == "redis":
        from djira.delivery.idempotency.redis import get_redis_store

        return get_redis_store(server)
    store = _memory.get(server)
    if store is None:
        store = _memory[server] = MemoryStore()
    return store
