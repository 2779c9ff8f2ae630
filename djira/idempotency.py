"""Requests applied once: the ``idempotencyKey`` of a request (docs/protocol.md).

A write (``POST``, ``PUT``, ``PATCH``, ``DELETE``) sent with a key by a signed-in user runs
once per key and user within ``IDEMPOTENCY_TTL`` seconds; a request repeating the key gets
the first one's reply (``"replayed": true``) without running the middleware or the route
again, on whichever server process it arrives, since the keys live in the delivery backend
(``djira.delivery.idempotency``). The rules, after Stripe's ``Idempotency-Key``:

- **Scope**: a key belongs to the user, so two users' keys never meet. An anonymous
  connection's keys are ignored: nothing outlives its connection to scope them by, and one
  scope shared by every anonymous client would replay one client's reply to another.
- **Content**: the same key with another event, route, verb, ``pk``, ``data`` or ``query``
  is refused (422): a replay would answer a request that was never run.
- **At once**: a request whose key is held by one still running waits for its reply up to
  ``IDEMPOTENCY_WAIT`` seconds, then gets 409 (Stripe answers 409 at once: ``0``).
- **What is kept**: every reply but 409, 429 and 503, which say "try again": the key is
  freed and the next attempt runs. A 500 is kept, as Stripe does: the route may have
  written before it failed.
- Reads (``GET``), ``SUBSCRIPTION`` and ``UNSUBSCRIPTION`` ignore keys: they change nothing,
  or change the connection itself, which a replay would not.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from djira import json as djira_json
from djira.delivery.idempotency import Store, get_store
from djira.response import Response
from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.middleware import Handler
    from djira.scope import Scope

logger = logging.getLogger("djira")

#: The verbs a key applies to.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Longest key accepted (Stripe's limit).
MAX_KEY_LENGTH = 255
#: Replies that mean "try again": never kept.
RETRY_STATUSES = frozenset({409, 429, 503})
#: First and longest pause between two looks at a key held by a running request.
FIRST_POLL, LAST_POLL = 0.01, 0.2


def applies(scope: Scope) -> bool:
    """Whether ``scope``'s key is honoured: a write by a signed-in user, with a key."""
    return (
        scope.idempotency_key is not None
        and scope.action in WRITES
        and bool(getattr(scope.user, "is_authenticated", False))
    )


def store_key(scope: Scope) -> str:
    """The key as stored: the user's and the client's key, hashed to a fixed width."""
    scoped = f"{scope.user.pk}\0{scope.idempotency_key}"
    return hashlib.sha256(scoped.encode()).hexdigest()


def fingerprint(scope: Scope) -> str:
    """A digest of what the request asks: its event, route, verb, ``pk``, ``data``, ``query``."""
    content = [scope.event, scope.namespace, scope.action, scope.pk, scope.data, scope.raw_query]
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _error(status: int, detail: str, code: str) -> Response:
    return Response({"detail": detail, "code": code}, status)


def _replay(reply: str) -> Response:
    stored: Any = djira_json.loads(reply)
    return Response(stored["data"], stored["status"])


def _encoded(response: Response) -> str:
    """The reply as kept; what cannot be encoded is kept as the 500 the client gets."""
    try:
        return djira_json.encode({"status": response.status, "data": response.data})
    except (TypeError, ValueError):
        return djira_json.encode({"status": 500, "data": {"detail": "A server error occurred."}})


async def respond(scope: Scope, handler: Handler) -> Response:
    """``handler(scope)``'s response, or the reply kept for the request's key. A coroutine."""
    if not applies(scope):
        return await handler(scope)
    store = get_store(scope.server)  # type: ignore[arg-type]
    key, digest, owner = store_key(scope), fingerprint(scope), uuid.uuid4().hex
    loop = asyncio.get_running_loop()
    deadline = loop.time() + float(jira_settings.IDEMPOTENCY_WAIT)
    pause = FIRST_POLL
    while True:
        try:
            found = await store.claim(key, digest, owner)
        except Exception:
            logger.exception("djira could not read idempotency key %r", scope.idempotency_key)
            detail = "The idempotency key could not be checked; try again."
            return _error(503, detail, "idempotency_unavailable")
        if found is None:
            break
        if found.fingerprint != digest:
            detail = "This idempotency key was used for another request; use a new key."
            return _error(422, detail, "idempotency_key_reused")
        if found.reply is not None:
            scope.replayed = True
            return _replay(found.reply)
        left = deadline - loop.time()
        if left <= 0:
            detail = "A request with this idempotency key is still running; try again."
            return _error(409, detail, "idempotency_key_in_use")
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, LAST_POLL)
    try:
        response = await handler(scope)
    except BaseException:  # cancelled: nothing to keep
        await _release(store, key, owner)
        raise
    if response.status in RETRY_STATUSES:
        await _release(store, key, owner)
        return response
    try:
        await store.finish(key, owner, digest, _encoded(response), jira_settings.IDEMPOTENCY_TTL)
    except Exception:
        # The reply still goes out; the claim lapses after CLAIM_SECONDS (until then a
        # repeat waits, then gets 409), and a repeat after that runs the route again.
        logger.exception("djira could not keep the reply to key %r", scope.idempotency_key)
    return response


async def _release(store: Store, key: str, owner: str) -> None:
    try:
        await asyncio.shield(store.release(key, owner))
    except Exception:
        # The claim expires by itself after CLAIM_SECONDS.
        logger.exception("djira could not free an idempotency key")
