"""Memory per idle connection: server RSS growth ÷ websocket connections, djira vs bare.

    python -m bench.connections                          # 1,000 connections, 3 rounds
    python -m bench.connections --deflate                # clients offer permessage-deflate
    python -m bench.connections --ws wsproto             # another uvicorn websocket server
    python -m bench.connections --tracemalloc /tmp/mem   # + where it goes, by site

For each app (djira: ``bench/_fanout_djira.py``, the example project; bare:
``bench/_fanout_bare.py``, python-socketio alone), a fresh uvicorn process on CPU 0 and
``--connections`` lean websocket clients (``bench/_fanout_clients.py``) in this process on
CPU 1, each connected to the Socket.IO namespace (``--subscribe``: and subscribed to the
room of one article), then left idle. ``per conn`` is (RSS with the connections - RSS
before them) ÷ connections, read from ``/proc`` two seconds after the last one connected;
``RSS ÷ conns`` divides the whole RSS. Two warm-up connections come first, so first-use
imports are not counted. Medians of ``--rounds`` rounds, each on fresh servers.

``--deflate``: the clients offer permessage-deflate as browsers do; uvicorn then keeps a
zlib compressor and decompressor per connection (``--ws-per-message-deflate``, on by
default). ``--tracemalloc PATH``: the servers trace their allocations
(``bench/_tracemalloc_hook.py``) and the 30 sites that grew most with the connections are
written to ``PATH.<app>`` (one frame per site; ``BENCH_TRACEMALLOC_FRAMES=4`` for more).
The traced figures are Python's allocations only and the tracing itself costs memory:
compare RSS figures from runs without it. ``--no-deflate-server`` turns uvicorn's
permessage-deflate off; ``--djira-settings JSON`` overrides ``DJIRA_SETTINGS`` in the djira
server (e.g. ``'{"GC_FREEZE": false, "GC_THRESHOLD": null}'``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import statistics
import sys
import tempfile
import time

from bench._fanout_clients import close_all, open_subscribers
from bench.common import print_table, seed_database, server_env, start_server
from bench.fanout_10k import APPS, SUBSCRIBE, rss_kib


async def _open(url: str, app: str, count: int, subscribe: bool, deflate: bool) -> list:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    frame = SUBSCRIBE[app] if subscribe else ""
    return await open_subscribers(host, int(port), count, frame, lambda *a: None, deflate=deflate)


def measure(app: str, args: argparse.Namespace, db: str, round_: int) -> dict[str, float]:
    env = server_env(db)
    if args.tracemalloc:
        env["BENCH_TRACEMALLOC"] = f"{args.tracemalloc}.{app}"
    if args.djira_settings:
        env["BENCH_DJIRA_SETTINGS"] = args.djira_settings
    uvicorn_args = ["--ws", args.ws] if args.ws else []
    if args.no_deflate_server:
        uvicorn_args += ["--ws-per-message-deflate", "false"]
    server = start_server(APPS[app], env, uvicorn_args=uvicorn_args)
    try:

        async def scenario() -> tuple[int, int]:
            warm = await _open(server.url, app, 2, args.subscribe, args.deflate)
            await asyncio.sleep(1)
            if args.tracemalloc and server.pid:
                os.kill(server.pid, signal.SIGUSR1)
            await asyncio.sleep(1)
            before = rss_kib(server.pid)
            clients = await _open(server.url, app, args.connections, args.subscribe, args.deflate)
            await asyncio.sleep(2)
            after = rss_kib(server.pid)
            if args.tracemalloc and server.pid:
                report = f"{args.tracemalloc}.{app}"
                with contextlib.suppress(FileNotFoundError):
                    os.remove(report)
                os.kill(server.pid, signal.SIGUSR2)
                for _ in range(600):  # a snapshot of a large heap takes a while
                    if os.path.exists(report):  # noqa: ASYNC240 - a local stat, instant
                        break
                    await asyncio.sleep(0.2)
            lost = sum(1 for c in clients if c.closed)
            close_all(clients + warm)
            assert not lost, f"{lost} connections closed early"
            return before, after

        before, after = asyncio.run(scenario())
    finally:
        server.stop()
    return {
        "per_conn": (after - before) / args.connections,
        "rss_per_conn": after / args.connections,
        "rss_mib": after / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--apps", default="djira,bare")
    parser.add_argument("--subscribe", action="store_true", help="subscribe each connection")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument(
        "--no-deflate-server", action="store_true", help="uvicorn --ws-per-message-deflate=false"
    )
    parser.add_argument(
        "--ws", default=None, choices=["websockets", "websockets-sansio", "wsproto"]
    )
    parser.add_argument("--tracemalloc", default=None, metavar="PATH")
    parser.add_argument(
        "--djira-settings", default=None, metavar="JSON", help="DJIRA_SETTINGS overrides"
    )
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    apps = args.apps.split(",")
    results: dict[str, list[dict[str, float]]] = {app: [] for app in apps}
    with tempfile.TemporaryDirectory(prefix="djira-conns-") as tmp:
        db = os.path.join(tmp, "bench.sqlite3")
        seed_database(db, articles=10)
        for round_ in range(args.rounds):
            for app in apps if round_ % 2 == 0 else list(reversed(apps)):
                results[app].append(measure(app, args, db, round_))
                time.sleep(0.5)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    rows = []
    base = statistics.median(r["per_conn"] for r in results[apps[-1]])
    for app in apps:
        per_conn = statistics.median(r["per_conn"] for r in results[app])
        rows.append(
            [
                app,
                args.connections,
                f"{per_conn:.1f}",
                f"{statistics.median(r['rss_per_conn'] for r in results[app]):.1f}",
                f"{statistics.median(r['rss_mib'] for r in results[app]):.0f}",
                " ".join(f"{r['per_conn']:.1f}" for r in results[app]),
                f"{per_conn / base:.2f}x" if app != apps[-1] and base else "",
            ]
        )
    print_table(
        ["app", "conns", "per conn KiB", "RSS ÷ conns KiB", "RSS MiB", "rounds", "vs last"],
        rows,
    )
    if args.tracemalloc:
        for app in apps:
            print(f"\n{app}: allocation sites that grew most ({args.tracemalloc}.{app})")
            with open(f"{args.tracemalloc}.{app}") as report:
                print(report.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
