"""What every idempotency store shares: the record of a key, the interface, the claim's life."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: How long a claim holds its key without a reply. A request still running after that loses
#: it: a duplicate arriving later runs again. Long enough for any request to finish; short
#: enough that a process that died mid-request blocks its keys for a minute only.
CLAIM_SECONDS = 60.0


@dataclass(frozen=True)
class Record:
    """What a store holds for a key: whose claim it is, for what request, and its reply."""

    owner: str
    fingerprint: str
    #: The encoded ``{"status", "data"}`` of the first request; ``None`` while it runs.
    reply: str | None


class Store(Protocol):
    """The interface every backend's store implements; every method is a coroutine."""

    async def claim(self, key: str, fingerprint: str, owner: str) -> Record | None:
        """Take ``key`` for ``owner`` and return ``None``, or return the record holding it."""

    async def finish(self, key: str, owner: str, fingerprint: str, reply: str, ttl: float) -> None:
        """Keep ``reply`` under ``key`` for ``ttl`` seconds, if ``owner`` still holds it."""

    async def release(self, key: str, owner: str) -> None:
        """Free ``key`` if ``owner`` still holds it: the next request with it runs."""
