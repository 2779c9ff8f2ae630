"""The registry of live server processes: each server's heartbeat, readable by any process.

Every ``HEARTBEAT_INTERVAL`` seconds a server process writes a snapshot (what the console
shows of it) under its id, kept for two and a half intervals: a process that stops, however
it stops, drops out within a few seconds without saying goodbye. Any process (a console view
in a WSGI worker included) reads the others' snapshots. Short-lived flags (``flag``) reach
every process the same way: the console sets one while a page watches, and each heartbeat
reads it.

The backend keeps the registry where it keeps pushes (``Backend.registry``):

- memory: one process, nobody else to find (``others`` is empty; flags are this process's);
- database: rows of ``djira_process``; an expired row is ignored at once and deleted by a
  later heartbeat (expiry compares the writer's and the reader's clocks: keep them in NTP);
- redis: keys with a time-to-live, so only Redis' clock counts; all under one hash tag, so
  reading every process is one command that Redis Cluster accepts.

Errors propagate to the caller: the heartbeat logs an outage once, a view shows what it has.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

#: What a beat publishes: the process's id and its JSON-safe snapshot (a coroutine).
Snapshot = Callable[[], Awaitable[tuple[str, dict[str, Any]]]]


def interval() -> float:
    from djira.settings import jira_settings

    return max(0.2, float(jira_settings.HEARTBEAT_INTERVAL or 2.0))


class Registry:
    """The memory backend's registry: this process only."""

    #: Whether other processes can be found (the console says whether it shows a cluster).
    shared = False

    def __init__(self) -> None:
        self._flags: dict[str, float] = {}

    def others(self, exclude: str) -> list[dict[str, Any]]:
        """The snapshots other live processes published (never ``exclude``'s)."""
        return []

    async def beat(self, server: DjiraServer, process: str, snapshot: str, ttl: float) -> None:
        """Publish ``process``'s snapshot (JSON text) for ``ttl`` seconds. A coroutine."""

    async def leave(self, server: DjiraServer, process: str) -> None:
        """Remove ``process`` at once (a clean shutdown). A coroutine."""

    def flag(self, name: str, seconds: float) -> None:
        """Raise ``name`` for ``seconds``, for every process to see."""
        self._flags[name] = time.monotonic() + seconds

    async def flagged(self, server: DjiraServer, name: str) -> bool:
        """Whether ``name`` is raised. A coroutine."""
        return self.raised(name)

    def raised(self, name: str) -> bool:
        """Whether ``name`` is raised, read from a thread without a loop (a saving thread)."""
        return self._flags.get(name, 0.0) > time.monotonic()


class RedisRegistry(Registry):
    """Keys ``{djira:processes}:<id>`` with a time-to-live, and the set of ids."""

    shared = True

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        # One hash tag: MGET over every process is one slot, as Redis Cluster requires.
        self.prefix = "{djira:processes}:"
        self.ids = "{djira:processes}"

    def _client(self) -> Any:
        from djira.delivery.redis import sync_client

        return sync_client(self.url)

    def _async_client(self, server: DjiraServer) -> Any:
        from djira.delivery.redis import get_server_link

        link = get_server_link(server)
        assert link is not None, "the redis backend needs REDIS_URL (djira.E011)"
        return link.client

    def others(self, exclude: str) -> list[dict[str, Any]]:
        client = self._client()
        ids = sorted(i.decode() for i in client.smembers(self.ids) if i.decode() != exclude)
        values = client.mget([self.prefix + i for i in ids]) if ids else []
        gone = [i for i, value in zip(ids, values, strict=True) if value is None]
        if gone:  # stopped without saying goodbye: their keys expired
            client.srem(self.ids, *gone)
        return _parsed(v for v in values if v)

    async def beat(self, server: DjiraServer, process: str, snapshot: str, ttl: float) -> None:
        # One transaction: a reader never sees the id without its key, unless it expired.
        async with self._async_client(server).pipeline(transaction=True) as pipe:
            pipe.set(self.prefix + process, snapshot, px=int(ttl * 1000))
            pipe.sadd(self.ids, process)
            await pipe.execute()

    async def leave(self, server: DjiraServer, process: str) -> None:
        async with self._async_client(server).pipeline(transaction=True) as pipe:
            pipe.delete(self.prefix + process)
            pipe.srem(self.ids, process)
            await pipe.execute()

    def flag(self, name: str, seconds: float) -> None:
        self._client().set(self.prefix + "flag:" + name, "1", px=int(seconds * 1000))

    async def flagged(self, server: DjiraServer, name: str) -> bool:
        return bool(await self._async_client(server).exists(self.prefix + "flag:" + name))

    def raised(self, name: str) -> bool:
        return bool(self._client().exists(self.prefix + "flag:" + name))


class DatabaseRegistry(Registry):
    """Rows of ``djira_process`` (``djira.delivery.models.Process``)."""

    shared = True
    PROCESS, FLAG = "process:", "flag:"

    def others(self, exclude: str) -> list[dict[str, Any]]:
        from djira.delivery.models import Process

        rows = Process.objects.filter(key__startswith=self.PROCESS, expires__gt=time.time())
        values = rows.exclude(key=self.PROCESS + exclude).values_list("value", flat=True)
        return _parsed(values)

    async def beat(self, server: DjiraServer, process: str, snapshot: str, ttl: float) -> None:
        from djira.sync import run_sync

        await run_sync(self._write, self.PROCESS + process, snapshot, ttl, sid="")

    async def leave(self, server: DjiraServer, process: str) -> None:
        from djira.delivery.models import Process
        from djira.sync import run_sync

        await run_sync(Process.objects.filter(key=self.PROCESS + process).delete, sid="")

    def flag(self, name: str, seconds: float) -> None:
        self._write(self.FLAG + name, "1", seconds)

    async def flagged(self, server: DjiraServer, name: str) -> bool:
        from djira.delivery.models import Process
        from djira.sync import run_sync

        found = Process.objects.filter(key=self.FLAG + name, expires__gt=time.time())
        return await run_sync(found.exists, sid="")

    def raised(self, name: str) -> bool:
        from django.db import transaction

        from djira.delivery.models import Process

        # In a savepoint when called inside the caller's transaction: a failed read must not
        # leave that transaction aborted (PostgreSQL).
        with transaction.atomic():
            found = Process.objects.filter(key=self.FLAG + name, expires__gt=time.time())
            return found.exists()

    @staticmethod
    def _write(key: str, value: str, ttl: float) -> None:
        from djira.delivery.models import Process

        now = time.time()
        Process.objects.update_or_create(key=key, defaults={"value": value, "expires": now + ttl})
        # Rows of processes gone for a minute: a few at most, removed by whoever beats next.
        Process.objects.filter(expires__lt=now - 60).delete()


def _parsed(values: Any) -> list[dict[str, Any]]:
    out = []
    for value in values:
        with contextlib.suppress(ValueError):
            found = json.loads(value)
            if isinstance(found, dict):
                out.append(found)
    return out
