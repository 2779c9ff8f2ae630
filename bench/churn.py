"""Connection churn: server CPU per connect, subscribe and disconnect, djira vs bare.

    python -m bench.churn                        # 1,000 idle connections held, 2,000 cycles
    python -m bench.churn --idle 0 --no-subscribe
    python -m bench.churn --apps djira --idle 5000

For each app (djira: ``bench/_fanout_djira.py``, the example project on its database
backend; bare: ``bench/_fanout_bare.py``, python-socketio alone), a fresh uvicorn process on
CPU 0, then from this process (CPU 1): ``--idle`` connections opened and left idle, then
``--cycles`` cycles by ``--concurrency`` clients at a time, each a lean websocket client
(``bench/_fanout_clients.py``) that connects to the namespace, subscribes to the room of one
article (``--no-subscribe``: not) and closes its transport, as a client that reconnects in
a loop does. Printed: the server's CPU time (user + system, from ``/proc``) per cycle and
cycles a second, medians of ``--rounds`` rounds on fresh servers, and djira ÷ bare. The
idle connections show what a cycle costs that grows with the connections a server holds
(python-socketio's disconnect scans every room: djira.delivery.rooms). Nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time

from bench._fanout_clients import close_all, open_subscribers
from bench.common import cpu_seconds, print_table, seed_database, server_env, start_server
from bench.fanout_10k import APPS, SUBSCRIBE


async def _cycles(url: str, frame: str, cycles: int, concurrency: int) -> None:
    host, port = url.split("://", 1)[1].rsplit(":", 1)

    async def one_client(count: int) -> None:
        for _ in range(count):
            [client] = await open_subscribers(host, int(port), 1, frame, lambda *a: None)
            close_all([client])

    share, extra = divmod(cycles, concurrency)
    await asyncio.gather(*(one_client(share + (n < extra)) for n in range(concurrency)))


async def _round(url: str, pid: int | None, app: str, args: argparse.Namespace) -> dict:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    frame = "" if args.no_subscribe else SUBSCRIBE[app]
    idle = await open_subscribers(host, int(port), args.idle, "", lambda *a: None)
    await _cycles(url, frame, 20, 1)  # first-use imports, not counted
    await asyncio.sleep(2)
    cpu, started = cpu_seconds(pid), time.perf_counter()
    await _cycles(url, frame, args.cycles, args.concurrency)
    await asyncio.sleep(1)  # the last disconnects are handled
    used, elapsed = (cpu_seconds(pid) or 0.0) - (cpu or 0.0), time.perf_counter() - started - 1
    close_all(idle)
    return {"us": used / args.cycles * 1e6, "rate": args.cycles / elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", default="djira,bare", help="which of djira,bare (both)")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections held (1000)")
    parser.add_argument("--cycles", type=int, default=2000, help="cycles measured (2000)")
    parser.add_argument("--concurrency", type=int, default=10, help="clients at once (10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per app (2)")
    parser.add_argument("--no-subscribe", action="store_true", help="connect and close only")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    apps = args.apps.split(",")
    figures: dict[str, list[dict]] = {app: [] for app in apps}
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.sqlite3")
        seed_database(db, 100)
        for round_ in range(args.rounds):
            for app in apps if round_ % 2 == 0 else reversed(apps):
                with start_server(APPS[app], server_env(db)) as server:
                    figures[app].append(asyncio.run(_round(server.url, server.pid, app, args)))
    what = "connect + close" if args.no_subscribe else "connect + subscribe + close"
    print(f"{what}; {args.idle} idle connections held; {args.cycles} cycles x {args.rounds}")
    rows = []
    for app in apps:
        us = statistics.median(f["us"] for f in figures[app])
        rate = statistics.median(f["rate"] for f in figures[app])
        each = ", ".join(f"{f['us']:.0f}" for f in figures[app])
        rows.append([app, f"{us:.0f}", each, f"{rate:.0f}"])
    print_table(["app", "server CPU us/cycle", "rounds", "cycles/s"], rows)
    if {"djira", "bare"} <= set(apps):
        djira = statistics.median(f["us"] for f in figures["djira"])
        bare = statistics.median(f["us"] for f in figures["bare"])
        print(f"djira / bare, server CPU per cycle: {djira / bare:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
