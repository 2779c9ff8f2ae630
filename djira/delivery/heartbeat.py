"""One heartbeat per server: what it keeps alive in the delivery backend.

Every ``HEARTBEAT_INTERVAL`` seconds (2 by default) a server renews its presence entries in
the backend's store (``djira.delivery.presence_stores``) and publishes its snapshot to the
registry of live processes (``djira.delivery.processes``), each where the backend shares
one. Both expire after a few intervals, so a server that stops, however it stops, drops out
of both within seconds. The heartbeat starts with the server's first connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING

from djira.delivery.backends import get_backend, get_registry
from djira.delivery.processes import Registry, Snapshot, interval

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")


def publish_snapshots(server: DjiraServer, snapshot: Snapshot) -> None:
    """Have ``server``'s heartbeat publish ``snapshot()`` to the registry (the console
    calls it: the core does not know what a snapshot holds)."""
    server.delivery.snapshot = snapshot
    ensure_heartbeat(server)


def ensure_heartbeat(server: DjiraServer) -> None:
    """Start ``server``'s heartbeat once, on the running loop (its first connection)."""
    state = server.delivery
    loop = asyncio.get_running_loop()
    task = state.heartbeat
    if task is None or task.done() or task.get_loop() is not loop:
        state.heartbeat = loop.create_task(_heartbeat(server))


async def _heartbeat(server: DjiraServer) -> None:
    """Every ``HEARTBEAT_INTERVAL``: renew this server's presence in the backend's store and
    publish its snapshot to the registry, each where the backend shares one. One loop, one
    interval, one line when beats start failing and one when they work again."""
    state = server.delivery
    failing = False
    published: tuple[Registry, str] | None = None
    try:
        while True:
            every = interval()
            await asyncio.sleep(every)
            try:
                store = get_backend().presence
                if state.presence is not None and store.shared:
                    await store.beat(state.presence)
                registry = get_registry()
                if state.snapshot is not None and registry.shared:
                    process, snap = await state.snapshot()
                    text = json.dumps(snap, default=str)
                    await registry.beat(server, process, text, every * 2.5)
                    published = (registry, process)
                if failing:
                    logger.warning("djira: the server's heartbeat works again")
                failing = False
            except Exception as exc:
                if not failing:  # one line per outage, not one per beat
                    logger.warning("djira: the server's heartbeat failed (%s)", exc)
                failing = True
    finally:
        if published is not None:
            registry, process = published
            with contextlib.suppress(Exception):
                await asyncio.shield(registry.leave(server, process))
