"""10,000 subscribers on one server process: every push delivered, and what it costs.

    python -m bench.fanout_10k                        # 10,000 subscribers, 20 saves, djira
    python -m bench.fanout_10k --apps djira,bare      # and the bare python-socketio handler
    python -m bench.fanout_10k --subscribers 3000 --processes 1 --saves 10

One uvicorn process (pinned to CPU 0) serves the example project (``bench/_fanout_djira.py``,
as in fanout.py; ``bench/_fanout_bare.py`` for ``bare``) on a fresh SQLite database. The
subscribers are lean websocket clients (``bench/_fanout_clients.py``) in ``--processes``
load-generator processes of their own (pinned to CPU 1), each subscribed to the room of one
article; this process saves that article ``--saves`` times through a python-socketio
client, one save at a time, each waited for at every subscriber.

Printed: deliveries received against expected (a lost one fails the run: exit status 1),
p50/p99 of save-to-last-subscriber (the row's ``updated`` timestamp to the arrival of its
push at the last subscriber, same machine clock), the server's CPU time per delivery
(user + system from ``/proc``, over the saves only), and the server's RSS divided by the
connections (and the growth from before the connections, divided by them). The file limit
is raised to the hard limit (``RLIMIT_NOFILE``): the servers inherit it. Nothing asserts
timings: the figures are for people to read (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench._fanout_clients import close_all, open_subscribers
from bench.common import cpu_seconds, percentile, seed_database, server_env, start_server

APPS = {"djira": "bench._fanout_djira:application", "bare": "bench._fanout_bare:application"}
SUBSCRIBE = {
    "djira": '421["articles",{"namespace":"subscribe","action":"SUBSCRIPTION"}]',
    "bare": '421["subscribe"]',
}


def rss_kib(pid: int | None) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _generator(url: str, app: str, count: int, pipe: Connection) -> None:
    """A load-generator process: ``count`` subscribers; reports each save once all got it."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    try:
        import uvloop

        uvloop.run(_generate(url, app, count, pipe))
    except ImportError:
        asyncio.run(_generate(url, app, count, pipe))


async def _generate(url: str, app: str, count: int, pipe: Connection) -> None:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    seen: dict[tuple[int, int], list[Any]] = {}  # key -> [count, last arrival, a frame]

    def pushed(key: tuple[int, int], arrived: float, frame: bytes) -> None:
        entry = seen.get(key)
        if entry is None:
            entry = seen[key] = [0, 0.0, frame]
        entry[0] += 1
        entry[1] = arrived
        if entry[0] == count:
            pipe.send(("done", key, count, arrived, frame.decode()))

    subscribers = await open_subscribers(host, int(port), count, SUBSCRIBE[app], pushed)
    pipe.send(("ready", count))
    loop = asyncio.get_running_loop()
    reader = asyncio.Event()
    loop.add_reader(pipe.fileno(), reader.set)
    while True:  # until told to stop; meanwhile the protocol callbacks do the work
        await reader.wait()
        reader.clear()
        while pipe.poll():
            command = pipe.recv()
            if command == "stop":
                closed = sum(1 for s in subscribers if s.closed)
                pipe.send(("stopped", {k: (v[0], v[1]) for k, v in seen.items()}, closed))
                close_all(subscribers)
                return


def saved_at(frame: str, app: str) -> float:
    payload = json.loads(frame[2:])[1]
    data = payload["data"] if app != "bare" else payload
    return datetime.fromisoformat(data["updated"]).timestamp()


async def _save(url: str, app: str, pk: int, title: str, writer: Any) -> None:
    if app == "bare":
        await writer.call("touch", {"pk": pk, "title": title}, timeout=60)
        return
    payload = {"namespace": "touch", "action": "POST", "data": {"pk": pk, "title": title}}
    reply = await writer.call("touch", payload, timeout=60)
    assert reply["status"] == 200, reply


def run(app: str, args: argparse.Namespace, db: str, pk: int) -> dict[str, Any]:
    import socketio

    server = start_server(APPS[app], server_env(db))
    pipes, processes = [], []
    try:
        rss_start = rss_kib(server.pid)
        shares = [args.subscribers // args.processes] * args.processes
        shares[0] += args.subscribers - sum(shares)
        context = multiprocessing.get_context("fork")
        began = time.monotonic()
        for share in shares:
            mine, theirs = context.Pipe()
            process = context.Process(target=_generator, args=(server.url, app, share, theirs))
            process.start()
            pipes.append(mine)
            processes.append(process)
        for pipe in pipes:
            if not pipe.poll(600):
                raise RuntimeError("a load generator did not connect within 600 s")
            assert pipe.recv()[0] == "ready"
        opened = time.monotonic() - began
        time.sleep(1)
        rss_open = rss_kib(server.pid)

        async def saves() -> tuple[list[float], int, float]:
            writer = socketio.AsyncClient(reconnection=False)
            await writer.connect(server.url, transports=["websocket"])
            latencies, delivered = [], 0
            cpu_before = 0.0
            for seq in range(-2, args.saves):  # two warm-up saves first
                if seq == 0:
                    cpu_before = cpu_seconds(server.pid) or 0.0
                phase = 0 if seq < 0 else 1
                key = (phase, seq % 1000)
                await _save(server.url, app, pk, f"fan-{phase}-{seq % 1000}", writer)
                arrivals, frame, got = [], "", 0
                for pipe in pipes:
                    if not await asyncio.to_thread(pipe.poll, 60):
                        break
                    _, done_key, count, arrived, frame = pipe.recv()
                    assert tuple(done_key) == key, (done_key, key)
                    arrivals.append(arrived)
                    got += count
                if seq >= 0:
                    delivered += got
                    if got == args.subscribers:
                        latencies.append(max(arrivals) - saved_at(frame, app))
            cpu = (cpu_seconds(server.pid) or 0.0) - cpu_before
            await writer.disconnect()
            return latencies, delivered, cpu

        latencies, delivered, cpu = asyncio.run(saves())
        closed = 0
        for pipe in pipes:
            pipe.send("stop")
        for pipe in pipes:
            if pipe.poll(60):
                _, _, lost_connections = pipe.recv()
                closed += lost_connections
        latencies.sort()
        return {
            "app": app,
            "opened_s": opened,
            "expected": args.subscribers * args.saves,
            "delivered": delivered,
            "closed": closed,
            "p50": percentile(latencies, 50) * 1000 if latencies else float("nan"),
            "p99": percentile(latencies, 99) * 1000 if latencies else float("nan"),
            "cpu_us": cpu * 1e6 / delivered if delivered else float("nan"),
            "rss_mib": rss_open / 1024,
            "rss_per_conn_kib": rss_open / args.subscribers,
            "growth_per_conn_kib": (rss_open - rss_start) / args.subscribers,
        }
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--apps", default="djira", help="comma-separated: djira, bare")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.subscribers + 1024:
        print(f"the hard file limit ({hard}) is below {args.subscribers + 1024}", file=sys.stderr)
        return 2
    print(f"load average at start: {os.getloadavg()[0]:.1f}; cpus: {os.cpu_count()}")
    results = []
    with tempfile.TemporaryDirectory(prefix="djira-10k-") as tmp:
        db = os.path.join(tmp, "bench.sqlite3")
        pk = seed_database(db, articles=10)[0]
        for app in args.apps.split(","):
            results.append(run(app, args, db, pk))
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    lost = False
    for r in results:
        lost = lost or r["delivered"] != r["expected"]
        print(
            f"{r['app']}: {args.subscribers} subscribers (opened in {r['opened_s']:.0f} s), "
            f"{args.saves} saves: delivered {r['delivered']}/{r['expected']}, "
            f"connections closed early {r['closed']}; save-to-last-subscriber "
            f"p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms; server CPU per delivery "
            f"{r['cpu_us']:.1f} us; server RSS {r['rss_mib']:.0f} MiB = "
            f"{r['rss_per_conn_kib']:.1f} KiB per connection "
            f"({r['growth_per_conn_kib']:.1f} KiB each above the idle server)"
        )
    if len(results) > 1 and results[1]["cpu_us"]:
        base = results[1]
        first = results[0]
        print(
            f"{first['app']} vs {base['app']}: CPU per delivery "
            f"{first['cpu_us'] / base['cpu_us']:.2f}x, p50 {first['p50'] / base['p50']:.2f}x"
        )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
