"""Across processes: each server process publishes its console snapshot with its heartbeat.

The registry of live processes belongs to the delivery backend (``djira.delivery.processes``:
Redis keys, rows of the database backend's table, or nothing with the memory backend); the
console only says what a snapshot holds and reads the others'. While a console page watches,
it raises the ``WATCH`` flag for a few seconds; every process's heartbeat reads it and keeps
full traffic rows meanwhile, so an open page sees traffic from all processes and a closed one
costs none of them more than counters.
"""

from __future__ import annotations

import logging
from typing import Any

from djira.delivery import processes
from djira.delivery.backends import get_registry

logger = logging.getLogger("djira")

WATCH = "admin-watched"
# Traffic rows a heartbeat carries (the newest); the page shows at most this many per process.
HEARTBEAT_ROWS = 200
# Request traces a heartbeat carries (the newest), so a page served by another process can
# open them; the deliveries of traced pushes are all carried (bounded by the recorder).
HEARTBEAT_TRACES = 50

interval = processes.interval


def clustered() -> bool:
    """Whether the console can show other processes (the backend shares a registry)."""
    return get_registry().shared


def remote_snapshots(exclude: str) -> list[dict[str, Any]]:
    """Snapshots other processes published; empty if the backend cannot be read."""
    try:
        return get_registry().others(exclude)
    except Exception as exc:
        logger.warning("djira admin: cannot read other processes' snapshots (%s)", exc)
        return []


def mark_watched(seconds: float = 10.0) -> None:
    """Ask every process to keep full traffic rows for ``seconds`` (an admin page polled)."""
    try:
        get_registry().flag(WATCH, seconds)
    except Exception as exc:
        logger.warning("djira admin: cannot tell other processes a page watches (%s)", exc)
