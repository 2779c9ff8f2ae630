"""Liveness and readiness endpoints, for load balancers, orchestrators and process managers.

``GET /djira/health/live`` (``HEALTH_PATH`` + ``/live``): 200 while the process's event loop
answers; nothing else is checked, so an orchestrator restarts a process only when it is
stuck, never because the database is down (a restart would not bring it back).

``GET /djira/health/ready``: 200 when this process can serve requests and pushes, else 503.
It checks the database (each alias in ``DATABASES``) and the delivery backend
(``get_delivery_checks``: Redis when ``REDIS_URL`` is set). The body names each check with
``"ok"`` or ``"unavailable"`` and nothing more: no host, no error text (those go to the
``djira`` logger, once when a check starts failing and once when it recovers).

Both are answered here, in front of Django: no middleware, so no ``ALLOWED_HOSTS``
(probes address a process by its IP), no HTTPS redirect, no session. Probes are cheap: one
readiness check runs at a time per process and its result is reused for ``CACHE_SECONDS``,
however many probes arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("djira")

# Each check's time budget, in seconds: a check slower than this counts as unavailable,
# and the whole answer stays within an orchestrator's default probe timeout (1 s).
CHECK_TIMEOUT = 0.8
# A readiness result is reused this long, so a flood of probes costs one check a second.
CACHE_SECONDS = 1.0

Check = Callable[[], Awaitable[None]]  # returns when healthy, raises otherwise


def ping_databases() -> None:
    """Open (or reuse) a connection to each database and check it answers (sync)."""
    from django.db import DatabaseError, connections

    try:
        for alias in connections:
            connection = connections[alias]
            if connection.settings_dict["ENGINE"] == "django.db.backends.dummy":
                continue
            connection.ensure_connection()
            if not connection.is_usable():
                raise DatabaseError(f"database '{alias}' does not answer")
    finally:
        connections.close_all()  # this thread's connections: it ends with the check


class DatabaseProbe:
    """Runs ``ping_databases`` in a thread of its own, one check at a time.

    Not on the request workers' threads: a saturated pool would make a healthy process
    look dead. A daemon thread per check (at most one a second): a database that hangs
    keeps its thread, never the event loop or interpreter exit, and later checks fail at
    once until it returns.
    """

    def __init__(self) -> None:
        self._busy = False  # a check's thread is still in the database

    async def __call__(self) -> None:
        if self._busy:
            raise TimeoutError("the previous database check has not returned yet")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if not done.done():
                done.set_result(error)

        def work() -> None:
            error: BaseException | None = None
            try:
                ping_databases()
            except BaseException as exc:  # reported to the coroutine, not raised in a thread
                error = exc
            self._busy = False
            # A closed loop raises RuntimeError: nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, error)

        self._busy = True
        threading.Thread(target=work, name="djira-health", daemon=True).start()
        error = await done
        if error is not None:
            raise error


async def ping_redis(url: str) -> None:
    """``PING`` a Redis server over a new connection, within ``CHECK_TIMEOUT``."""
    from djira.delivery.redis_clients import connect

    client = connect(url, CHECK_TIMEOUT, asynchronous=True)
    try:
        await client.ping()
    finally:
        await client.aclose()


def get_delivery_checks() -> dict[str, Check]:
    """The delivery backend's readiness checks, by the name the endpoint shows.

    Today: Redis when ``REDIS_URL`` is set. A delivery backend with something to check
    (a broker, a stream, an outbox listener) adds its check here.
    """
    from djira.settings import jira_settings

    url = jira_settings.REDIS_URL
    if not url:
        return {}
    return {"redis": lambda: ping_redis(url)}


class HealthCheck:
    """ASGI middleware answering ``<path>/live`` and ``<path>/ready``; the rest goes on.

    :param path: the prefix, e.g. ``"djira/health"`` (``HEALTH_PATH``).
    """

    def __init__(self, app: Any, path: str) -> None:
        self.app = app
        base = "/" + path.strip("/")
        self.live_path = f"{base}/live"
        self.ready_path = f"{base}/ready"
        self.database = DatabaseProbe()
        self._result: tuple[float, dict[str, bool]] | None = None
        self._running: asyncio.Task[dict[str, bool]] | None = None
        self._failing: set[str] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"].rstrip("/") if scope["type"] == "http" else None
        if path not in (self.live_path, self.ready_path):
            return await self.app(scope, receive, send)
        if scope["method"] not in ("GET", "HEAD"):
            return await self.respond(scope, send, 405, {"status": "method not allowed"})
        if path == self.live_path:
            return await self.respond(scope, send, 200, {"status": "ok"})
        results = await self.get_readiness()
        ready = all(results.values())
        body = {
            "status": "ok" if ready else "unavailable",
            "checks": {name: "ok" if ok else "unavailable" for name, ok in results.items()},
        }
        return await self.respond(scope, send, 200 if ready else 503, body)

    def get_checks(self) -> dict[str, Check]:
        """What readiness checks, by name: the database, then the delivery backend."""
        return {"database": self.database, **get_delivery_checks()}

    async def get_readiness(self) -> dict[str, bool]:
        """Each check's result, from the last second's run or a new one (a coroutine)."""
        if self._result is not None and time.monotonic() - self._result[0] < CACHE_SECONDS:
            return self._result[1]
        loop = asyncio.get_running_loop()
        running = self._running
        if running is None or running.done() or running.get_loop() is not loop:
            running = self._running = loop.create_task(self.run_checks())
        # Shielded: a probe that hangs up must not cancel the check other probes await.
        results = await asyncio.shield(running)
        self._result = (time.monotonic(), results)
        return results

    async def run_checks(self) -> dict[str, bool]:
        checks = self.get_checks()
        outcomes = await asyncio.gather(
            *(asyncio.wait_for(check(), CHECK_TIMEOUT) for check in checks.values()),
            return_exceptions=True,
        )
        results: dict[str, bool] = {}
        for name, outcome in zip(checks, outcomes, strict=True):
            results[name] = not isinstance(outcome, BaseException)
            if isinstance(outcome, BaseException) and name not in self._failing:
                self._failing.add(name)
                reason = f"{type(outcome).__name__}: {outcome}".rstrip(": ")
                logger.warning("djira health: %s is unavailable (%s)", name, reason)
            elif not isinstance(outcome, BaseException) and name in self._failing:
                self._failing.discard(name)
                logger.warning("djira health: %s is available again", name)
        return results

    async def respond(
        self, scope: dict[str, Any], send: Any, status: int, body: dict[str, Any]
    ) -> None:
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if status == 405:
            headers.append((b"allow", b"GET, HEAD"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        body_bytes = b"" if scope["method"] == "HEAD" else payload
        await send({"type": "http.response.body", "body": body_bytes})
