"""Across processes: each server process publishes a heartbeat with its snapshot to Redis.

Every ``HEARTBEAT_INTERVAL`` seconds a process writes ``djira:admin:process:<id>`` with a
time-to-live of two and a half intervals, so a stopped process disappears within a few
seconds without saying goodbye, and adds its id to the set ``djira:admin:processes``. Views
read the keys of the ids in that set and merge (``djira.admin.state``); an id whose key has
expired is dropped from the set by the reader. So finding the processes costs one command
whatever else the Redis database holds (no ``SCAN``), and compares no clocks.

A view that is watching also sets ``djira:admin:watched`` for a few seconds; every
process's heartbeat reads it and keeps full traffic rows meanwhile, so an open page sees
traffic from all processes and a closed one costs none of them more than counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from djira.delivery.redis import sync_client
from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.consumer import Consumer

logger = logging.getLogger("djira")

PREFIX = "djira:admin:process:"
PROCESSES = "djira:admin:processes"
WATCH_KEY = "djira:admin:watched"
# Traffic rows a heartbeat carries (the newest); the page shows at most this many per process.
HEARTBEAT_ROWS = 200
# Request traces a heartbeat carries (the newest), so a page served by another process can
# open them; the deliveries of traced pushes are all carried (bounded by the recorder).
HEARTBEAT_TRACES = 50


def interval() -> float:
    return max(0.2, float(jira_settings.HEARTBEAT_INTERVAL))


def remote_snapshots(exclude: str) -> list[dict[str, Any]]:
    """Snapshots other processes published; empty without ``REDIS_URL`` or if Redis is down."""
    url = jira_settings.REDIS_URL
    if not url:
        return []
    try:
        client = sync_client(url)
        ids = sorted(i.decode() for i in client.smembers(PROCESSES) if i.decode() != exclude)
        values = client.mget([PREFIX + i for i in ids]) if ids else []
        gone = [i for i, value in zip(ids, values, strict=True) if value is None]
        if gone:  # stopped without saying goodbye: their keys expired
            client.srem(PROCESSES, *gone)
    except Exception as exc:
        logger.warning("djira admin: cannot read process snapshots from Redis (%s)", exc)
        return []
    out = []
    for value in values:
        if value:
            try:
                out.append(json.loads(value))
            except ValueError:
                continue
    return out


def mark_watched(seconds: float = 10.0) -> None:
    """Ask every process to keep full traffic rows for ``seconds`` (an admin page polled)."""
    url = jira_settings.REDIS_URL
    if not url:
        return
    try:
        sync_client(url).set(WATCH_KEY, "1", px=int(seconds * 1000))
    except Exception as exc:
        logger.warning("djira admin: cannot reach Redis (%s)", exc)


async def _say_goodbye(client: Any, key: str) -> None:
    """Leave at once (a crashed process leaves when its key expires): one round trip."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.srem(PROCESSES, key.removeprefix(PREFIX))
        await pipe.execute()


def ensure_heartbeat(consumer: Consumer | None) -> None:
    """Start this process's heartbeat once, on the running (server) loop; no-op without Redis."""
    if consumer is None or not jira_settings.REDIS_URL:
        return
    if getattr(consumer, "_djira_heartbeat", None) is not None:
        return
    loop = asyncio.get_running_loop()
    task = loop.create_task(heartbeat(consumer))
    # A strong reference on the consumer: the loop keeps only weak ones to tasks.
    consumer._djira_heartbeat = task  # type: ignore[attr-defined]


async def heartbeat(consumer: Consumer) -> None:
    """Publish this process's snapshot forever. A coroutine."""
    import redis.asyncio as aioredis

    from djira.admin.state import collect_local, get_recorder

    client = aioredis.Redis.from_url(jira_settings.REDIS_URL)
    recorder = get_recorder(consumer)
    failing = False
    key = None
    try:
        while True:
            every = interval()
            try:
                if recorder is not None and await client.exists(WATCH_KEY):
                    recorder.watch(every * 3)
                recording = recorder is not None and recorder.recording
                snap = await collect_local(consumer, traffic=recording, rows=HEARTBEAT_ROWS)
                if recording and recorder is not None:
                    snap["traces"] = recorder.recent_traces(HEARTBEAT_TRACES)
                    snap["deliveries"] = {
                        trace: list(found) for trace, found in list(recorder.deliveries.items())
                    }
                process = snap["process"]["id"]
                key = PREFIX + process
                # One transaction: a reader never sees the id without its key, except once
                # the key has expired (the process is gone).
                async with client.pipeline(transaction=True) as pipe:
                    pipe.set(key, json.dumps(snap, default=str), px=int(every * 2500))
                    pipe.sadd(PROCESSES, process)
                    await pipe.execute()
                failing = False
            except Exception as exc:
                if not failing:  # one line per outage, not one per beat
                    logger.warning("djira admin: heartbeat to Redis failed (%s)", exc)
                failing = True
            await asyncio.sleep(every)
    finally:
        if key is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(_say_goodbye(client, key))
        await client.aclose()
