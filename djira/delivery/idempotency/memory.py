"""The memory backend's idempotency store: one process, nothing survives a restart."""

from __future__ import annotations

import time
from collections import OrderedDict

from djira.delivery.idempotency.base import CLAIM_SECONDS, Record


class MemoryStore:
    """The memory backend's store: this process only, trimmed as keys are claimed.

    Entries sit in the order their expiry was last set; claims expire before replies as a
    rule, so trimming from the front finds nearly every expired entry, and an entry left
    behind is treated as absent when it is read.
    """

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[Record, float]] = OrderedDict()

    def _trim(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, (_, expires) = next(iter(entries.items()))
            if expires > now:
                break
            del entries[key]

    async def claim(self, key: str, fingerprint: str, owner: str) -> Record | None:
        now = time.monotonic()
        self._trim(now)
        found = self._entries.get(key)
        if found is not None and found[1] > now:
            return found[0]
        self._entries.pop(key, None)
        self._entries[key] = (Record(owner, fingerprint, None), now + CLAIM_SECONDS)
        return None

    async def finish(self, key: str, owner: str, fingerprint: str, reply: str, ttl: float) -> None:
        found = self._entries.pop(key, None)
        if found is None or found[0].owner != owner:
            if found is not None:  # another request's claim: put it back as it was
                self._entries[key] = found
            return
        record = Record(owner, fingerprint, reply)
        self._entries[key] = (record, time.monotonic() + ttl)

    async def release(self, key: str, owner: str) -> None:
        found = self._entries.get(key)
        if found is not None and found[0].owner == owner:
            del self._entries[key]
