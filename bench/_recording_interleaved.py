"""Interleaved, in-process: the recorder's cost per request, with drift cancelled.

Run by ``bench/recording.py --interleaved`` in a process of its own (the example's settings
over a seeded database, pinned to one CPU). One ASGI application serves every mode: it is
driven through ``djira.testing.InProcessCommunicator`` (the whole request path: Engine.IO and
Socket.IO parsing, the handler, middleware, the hook's unit of work on a worker thread, the
reply's encoding, the recorder), and the mode is switched between short blocks of requests,
in a rotating order. A slower or faster machine for a moment then hits every mode alike,
which separate servers run one after another cannot promise on a shared machine.

What a block measures is the process's CPU time per request (all threads). Network I/O is
left out, so a mode's share of the cost is larger here than on a real server: a bound.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

MODES = ("off", "idle", "watched", "full")


def set_mode(monitor: Any, recorder: Any, mode: str, rate: float | None) -> None:
    """Switch the one server to ``mode``; ``rate``: the settings' TRAFFIC_RECORD_RATE."""
    from djira.admin.recorder import Budget

    monitor.listeners = [] if mode == "off" else [recorder]
    recorder.watched_until = time.monotonic() + 10**9 if mode in ("watched", "full") else 0.0
    recorder.budget = Budget(None if mode == "full" else rate)


async def main(pks: range, clients: int, block: int, cycles: int) -> dict[str, list[float]]:
    from example.asgi import application

    from djira.admin.recorder import TrafficRecorder
    from djira.settings import jira_settings
    from djira.testing import InProcessCommunicator

    monitor = jira_settings.SOCKET_INSTANCE.djira_consumer.monitor
    recorder = monitor.find(TrafficRecorder)
    rate = recorder.budget.rate
    sockets = [await InProcessCommunicator(application).connect() for _ in range(clients)]
    sequence = 0

    async def run(count: int) -> None:
        async def one_client(index: int, share: int) -> None:
            nonlocal sequence
            client = sockets[index]
            for _ in range(share):
                sequence += 1
                pk = pks[(index * 7919 + sequence * 31) % len(pks)]
                reply = await client.request(
                    "articles", pk=pk, data={"token": "not-recorded", "n": sequence}
                )
                if reply["status"] != 200:
                    raise SystemExit(f"unexpected reply {reply}")

        await asyncio.gather(*(one_client(i, count // clients) for i in range(clients)))

    await run(block)  # warm up every cache once
    per_mode: dict[str, list[float]] = {mode: [] for mode in MODES}
    for cycle in range(cycles):
        shift = cycle % len(MODES)
        for mode in MODES[shift:] + MODES[:shift]:
            set_mode(monitor, recorder, mode, rate)
            # A new budget starts full (one second's worth): take that burst out of the block.
            await run(block // 4)
            started = time.process_time()
            await run(block)
            per_mode[mode].append((time.process_time() - started) / block * 1e6)
    for client in sockets:
        await client.disconnect()
    return per_mode


if __name__ == "__main__":
    low, high, clients, block, cycles = (int(v) for v in sys.argv[1:6])
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
    django.setup()
    result = asyncio.run(main(range(low, high + 1), clients, block, cycles))
    print("RESULT " + json.dumps(result))
