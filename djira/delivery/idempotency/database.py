"""The database backend's idempotency store: the ``djira_idempotency`` table.

Claiming is an ``INSERT``: the primary key makes two processes' claims of one key exclusive,
whatever the database. A key whose row expired is taken over with an ``UPDATE`` naming the
row's owner and expiry as read (compare and set), so of two requests taking it over at once
one wins. Every statement is a short autocommit one: nothing holds a lock across a request.

Expired rows are deleted by the processes that claim keys, at most once every
``TRIM_EVERY`` seconds each, ``TRIM_BATCH`` rows per statement, oldest first, so that a
backlog is worked off in short statements instead of one that holds the table for long.

The ORM runs on a worker thread (``djira.sync.run_sync``), in the request's lane.
"""

from __future__ import annotations

import threading
import time
from functools import cache

from django.db import IntegrityError, transaction

from djira.delivery.idempotency.base import CLAIM_SECONDS, Record
from djira.delivery.idempotency.models import IdempotencyKey
from djira.sync import run_sync

TRIM_EVERY = 30.0
TRIM_BATCH = 500


class DatabaseStore:
    """Idempotency keys in the ``djira_idempotency`` table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trimmed = 0.0

    async def claim(self, key: str, fingerprint: str, owner: str) -> Record | None:
        return await run_sync(self.claim_sync, key, fingerprint, owner)

    async def finish(self, key: str, owner: str, fingerprint: str, reply: str, ttl: float) -> None:
        await run_sync(self.finish_sync, key, owner, reply, ttl)

    async def release(self, key: str, owner: str) -> None:
        await run_sync(self.release_sync, key, owner)

    # -- on a worker thread ----------------------------------------------------------------

    def claim_sync(self, key: str, fingerprint: str, owner: str) -> Record | None:
        now = time.time()
        self.trim_if_due(now)
        rows = IdempotencyKey.objects
        # Three rounds at most: a row can vanish (trimmed) or change (taken over) between
        # the failed insert and the read; a third change in a row means a busy key.
        for _ in range(3):
            try:
                with transaction.atomic():
                    rows.create(
                        key=key, owner=owner, fingerprint=fingerprint, expires=now + CLAIM_SECONDS
                    )
                return None
            except IntegrityError:
                pass
            found = rows.filter(key=key).values_list("owner", "fingerprint", "reply", "expires")
            row = found.first()
            if row is None:
                continue
            held_by, held_for, reply, expires = row
            if expires > now:
                return Record(held_by, held_for, reply)
            taken = rows.filter(key=key, owner=held_by, expires=expires).update(
                owner=owner, fingerprint=fingerprint, reply=None, expires=now + CLAIM_SECONDS
            )
            if taken:
                return None
        raise RuntimeError("djira: an idempotency key changed hands three times in one claim")

    def finish_sync(self, key: str, owner: str, reply: str, ttl: float) -> None:
        IdempotencyKey.objects.filter(key=key, owner=owner).update(
            reply=reply, expires=time.time() + ttl
        )

    def release_sync(self, key: str, owner: str) -> None:
        IdempotencyKey.objects.filter(key=key, owner=owner).delete()

    def trim_if_due(self, now: float) -> int:
        """Delete expired rows if this process has not for ``TRIM_EVERY`` s; how many."""
        with self._lock:
            if now - self._trimmed < TRIM_EVERY:
                return 0
            self._trimmed = now
        return trim(now)


def trim(now: float) -> int:
    """Delete the rows expired at ``now``, ``TRIM_BATCH`` per statement; how many."""
    rows = IdempotencyKey.objects
    deleted = 0
    while True:
        keys = list(
            rows.filter(expires__lt=now)
            .order_by("expires")
            .values_list("key", flat=True)[:TRIM_BATCH]
        )
        if not keys:
            return deleted
        # ``expires`` again: a key taken over since the read is no longer expired.
        count, _ = rows.filter(key__in=keys, expires__lt=now).delete()
        deleted += count
        if len(keys) < TRIM_BATCH:
            return deleted


@cache
def get_database_store() -> DatabaseStore:
    """The process's database store."""
    return DatabaseStore()
