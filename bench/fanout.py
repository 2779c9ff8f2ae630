"""Fan-out benchmark: one saved row pushed to N subscribers of one room, djira vs bare.

    python bench/fanout.py                          # 1,000 and 5,000 subscribers
    python bench/fanout.py --profile /tmp/fanout.prof   # djira's server under cProfile
    python bench/fanout.py --subscribers 500 --updates 50 --burst 200 --rounds 3
    python bench/fanout.py --history                # djira with the rooms' history vs without
    python bench/fanout.py --history --redis-url redis://127.0.0.1:6379/9   # kept in Redis

For each subscriber count, two servers run the example project under uvicorn on CPU 0 over
one temporary SQLite database, one after the other:

- **djira**: ``bench/_fanout_djira.py``, the example as shipped: ``ArticleAPIHook``'s
  ``@observer(Article, ArticleSerializer)`` and its ``subscribe`` route (pushes after
  commit, in the PROTOCOL envelope, through djira's outbox).
- **bare**: ``bench/_fanout_bare.py``, python-socketio alone: sockets join a room and a
  ``post_save`` receiver emits ``ArticleSerializer(instance).data`` to it.

This process (pinned to CPU 1) opens N lightweight Engine.IO websocket subscribers (raw
frames, so the clients cost as little as possible and the same for both sides) and one
python-socketio writer that saves the article through a ``touch`` handler. Two phases:

1. **latency**: ``--updates`` saves, one at a time, each waited for at every subscriber.
   save-to-last-delivery = arrival of the push at the last subscriber minus the row's
   ``updated`` timestamp (set by ``auto_now`` in the save; same machine clock).
2. **rate**: ``--burst`` saves back to back; sustained rate = saves / (last delivery of the
   last save - first save), with every delivery counted.

With ``--history``, the two servers are djira with its rooms' history (``HISTORY_SIZE`` 100,
the default: each push numbered and kept, docs/observers.md "Catching up after a drop") and
djira without it (``nohist``: ``HISTORY_SIZE`` 0), so the ratios are the cost of keeping
history (target: within 10%). ``--redis-url`` runs both with ``REDIS_URL`` (the history then
lives in Redis: one Lua call per outbox batch; use a scratch database number).

**Server CPU per delivery** (µs): the server process's CPU time (user + system, from
``/proc``) over the two measured phases, divided by the pushes delivered in them; the
figure issue 19 targets (djira at most 1/3 of bare's). Each round runs on fresh servers;
the table shows the **median of the rounds** for p50, p99, rate and CPU. ``--profile PATH``
runs djira's server under cProfile (its event loop thread) and writes the stats there
(read them with ``python -m pstats PATH``); figures from a profiled run are not comparable.

``delivered`` must equal ``expected``; the script exits with 1 otherwise. Nothing here is a
timed test: the figures and ratios are printed for people to read.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

from bench._fanout_clients import close_all, open_subscribers  # noqa: E402
from bench.common import (  # noqa: E402
    LatencyStats,
    cpu_seconds,
    print_table,
    seed_database,
    server_env,
    start_server,
)

APPS = {
    "djira": "bench._fanout_djira:application",
    "nohist": "bench._fanout_djira:application",  # with BENCH_HISTORY_SIZE=0
    "bare": "bench._fanout_bare:application",
}


@dataclass
class Run(LatencyStats):
    app: str
    subscribers: int
    latencies: list[float] = field(default_factory=list)  # seconds, sorted
    rate: float = 0.0
    #: Server CPU milliseconds per save (user + system, all phases): less sensitive than
    #: wall-clock figures to other processes sharing the machine.
    cpu_ms: float = 0.0
    #: Server CPU microseconds per delivered push, over the measured phases only.
    cpu_us: float = 0.0
    expected: int = 0
    delivered: int = 0
    #: Medians over the rounds of each round's p50 and p99 (ms).
    p50_round: float = 0.0
    p99_round: float = 0.0


class Subscribers:
    """N lean Engine.IO websocket subscribers (bench/_fanout_clients.py) recording arrivals."""

    def __init__(self, url: str, app: str, count: int) -> None:
        host_port = url.split("://", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.app = app
        self.count = count
        # (phase, seq) -> [arrival times]; raw frames for saved-at lookup.
        self.arrivals: dict[tuple[int, int], list[float]] = {}
        self.frames: dict[tuple[int, int], bytes] = {}
        self.done: dict[tuple[int, int], asyncio.Event] = {}
        self.sockets: list[Any] = []

    @property
    def closed(self) -> int:
        """Subscribers whose connection ended before the end of the run."""
        return sum(1 for s in self.sockets if s.closed)

    def expect(self, key: tuple[int, int]) -> asyncio.Event:
        self.arrivals[key] = []
        self.done[key] = asyncio.Event()
        return self.done[key]

    async def open(self) -> None:
        subscribe = (
            '421["articles",{"namespace":"subscribe","action":"SUBSCRIPTION"}]'
            if self.app != "bare"
            else '421["subscribe"]'
        )
        self.sockets = await open_subscribers(
            self.host, self.port, self.count, subscribe, self._pushed
        )

    def _pushed(self, key: tuple[int, int], arrived: float, frame: bytes) -> None:
        times = self.arrivals.get(key)
        if times is None:
            return
        times.append(arrived)
        if len(times) == 1:
            self.frames[key] = frame
        if len(times) == self.count:
            self.done[key].set()

    def saved_at(self, key: tuple[int, int]) -> float:
        payload = json.loads(self.frames[key][2:])[1]
        data = payload["data"] if self.app != "bare" else payload
        return datetime.fromisoformat(data["updated"]).timestamp()

    async def close(self) -> None:
        close_all(self.sockets)


async def measure(
    url: str, app: str, count: int, pk: int, updates: int, burst: int, pid: int | None = None
) -> Run:
    import socketio

    run = Run(app, count)
    subscribers = Subscribers(url, app, count)
    await subscribers.open()
    writer = socketio.AsyncClient(reconnection=False)
    await writer.connect(url, transports=["websocket"])

    async def touch(phase: int, seq: int) -> None:
        title = f"fan-{phase}-{seq}"
        if app != "bare":
            payload = {
                "namespace": "touch",
                "action": "POST",
                "data": {"pk": pk, "title": title},
            }
            reply = await writer.call("touch", payload, timeout=120)
            assert reply["status"] == 200, reply
        else:
            await writer.call("touch", {"pk": pk, "title": title}, timeout=120)

    # Warm-up: imports, caches and the first-connection paths are not measured.
    for seq in range(3):
        done = subscribers.expect((0, seq))
        await touch(0, seq)
        await asyncio.wait_for(done.wait(), 30)

    cpu_start = cpu_seconds(pid)
    # 1. latency: one save at a time.
    for seq in range(updates):
        key = (1, seq)
        done = subscribers.expect(key)
        await touch(*key)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 10)
        times = subscribers.arrivals[key]
        run.expected += count
        run.delivered += len(times)
        if len(times) == count:
            run.latencies.append(max(times) - subscribers.saved_at(key))

    # 2. sustained rate: saves back to back.
    keys = [(2, seq) for seq in range(burst)]
    events = [subscribers.expect(key) for key in keys]
    for key in keys:
        await touch(*key)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 60)
    got = [subscribers.arrivals[key] for key in keys]
    run.expected += count * burst
    run.delivered += sum(len(times) for times in got)
    if all(got) and subscribers.frames.get(keys[0]):
        span = max(max(times) for times in got) - subscribers.saved_at(keys[0])
        run.rate = burst / span if span > 0 else 0.0
    cpu_end = cpu_seconds(pid)
    if subscribers.closed:
        print(f"{app}, {count} subscribers: {subscribers.closed} connections closed early")
    if cpu_start is not None and cpu_end is not None and run.delivered:
        run.cpu_us = (cpu_end - cpu_start) * 1e6 / run.delivered
    run.latencies.sort()
    await writer.disconnect()
    await subscribers.close()
    return run


def start_patiently(
    app: str, env: dict[str, str], attempts: int = 3, uvicorn_args: Sequence[str] = ()
) -> Any:
    """``start_server``, tried again when a busy machine makes uvicorn slow to listen."""
    for attempt in range(attempts):
        try:
            return start_server(app, env, uvicorn_args=uvicorn_args)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", default="1000,5000", help="comma-separated counts")
    parser.add_argument("--updates", type=int, default=40, help="saves in the latency phase")
    parser.add_argument("--burst", type=int, default=100, help="saves in the rate phase")
    parser.add_argument("--rounds", type=int, default=3, help="runs per app and count")
    parser.add_argument(
        "--profile", default=None, help="write a cProfile of djira's server to this path"
    )
    parser.add_argument(
        "--history", action="store_true", help="compare djira with and without rooms' history"
    )
    parser.add_argument("--redis-url", default=None, help="REDIS_URL for the djira servers")
    parser.add_argument(
        "--ws",
        default=None,
        choices=["websockets", "websockets-sansio", "wsproto"],
        help="uvicorn's websocket implementation for both servers (default: uvicorn's choice)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    counts = [int(c) for c in args.subscribers.split(",")]
    try:  # a socket per subscriber, here and in the servers (which inherit the limit)
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = min(hard, max(soft, 2 * max(counts) + 1024))
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, ValueError, OSError):
        pass
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the servers run on CPU 0
    try:
        import uvloop

        run_async = uvloop.run
    except ImportError:
        run_async = asyncio.run
    rows, results, lost = [], {}, False
    # What djira is compared with: python-socketio alone, or djira without history.
    base = "nohist" if args.history else "bare"
    with tempfile.TemporaryDirectory(prefix="djira-fanout-") as tmp:
        db = os.path.join(tmp, "bench.sqlite3")
        pk = seed_database(db, articles=10)[0]
        extra = {"DJIRA_REDIS_URL": args.redis_url} if args.redis_url else {}
        profile = {"BENCH_PROFILE": args.profile} if args.profile else {}
        envs = {
            "djira": server_env(db, **extra, **profile),
            "nohist": server_env(db, BENCH_HISTORY_SIZE="0", **extra),
            "bare": server_env(db),
        }
        for count in counts:
            runs: dict[str, list[Run]] = {base: [], "djira": []}
            for round_ in range(args.rounds):
                order = [base, "djira"] if round_ % 2 == 0 else ["djira", base]
                for app in order:
                    # start_server() returns a started server; not ``with``: LiveServer's
                    # __enter__ would start a second uvicorn on the same port.
                    ws = ["--ws", args.ws] if args.ws else []
                    server = start_patiently(APPS[app], envs[app], uvicorn_args=ws)
                    try:
                        measured = measure(
                            server.url, app, count, pk, args.updates, args.burst, server.pid
                        )
                        cpu_before = cpu_seconds(server.pid)
                        run = run_async(measured)
                        cpu_after = cpu_seconds(server.pid)
                        if cpu_before is not None and cpu_after is not None:
                            saves = 3 + args.updates + args.burst  # warm-up included
                            run.cpu_ms = (cpu_after - cpu_before) * 1000 / saves
                        runs[app].append(run)
                        if args.profile and app == "djira" and server.pid is not None:
                            import signal

                            os.kill(server.pid, signal.SIGUSR1)  # write the profile
                            time.sleep(1)
                    finally:
                        server.stop()
            for app in (base, "djira"):
                pooled = Run(app, count)
                for run in runs[app]:
                    pooled.latencies += run.latencies
                    pooled.expected += run.expected
                    pooled.delivered += run.delivered
                pooled.latencies.sort()
                # Medians of the rounds (each on fresh servers).
                pooled.p50_round = statistics.median(r.p50_ms for r in runs[app])
                pooled.p99_round = statistics.median(r.p99_ms for r in runs[app])
                pooled.rate = statistics.median(r.rate for r in runs[app])
                pooled.cpu_ms = statistics.median(r.cpu_ms for r in runs[app])
                pooled.cpu_us = statistics.median(r.cpu_us for r in runs[app])
                results[(app, count)] = pooled
                print(  # as it comes: a long run that fails later keeps what it measured
                    f"{count} {app}: p50 {pooled.p50_round:.1f} ms, p99 {pooled.p99_round:.1f} ms,"
                    f" cpu {pooled.cpu_us:.1f} us/delivery, rounds' cpu "
                    f"{[round(r.cpu_us, 1) for r in runs[app]]}, delivered {pooled.delivered}"
                    f"/{pooled.expected}",
                    flush=True,
                )
                lost = lost or pooled.delivered != pooled.expected
                bare = results[(base, count)]
                mine = app == "djira"
                rows.append(
                    [
                        count,
                        app,
                        f"{pooled.p50_round:.1f}",
                        f"{pooled.p99_round:.1f}",
                        f"{pooled.rate:.1f}",
                        f"{pooled.cpu_us:.1f}",
                        pooled.delivered,
                        pooled.expected,
                        f"{pooled.p50_round / bare.p50_round:.2f}x" if mine else "",
                        f"{pooled.rate / bare.rate:.2f}x" if mine and bare.rate else "",
                        f"{pooled.cpu_us / bare.cpu_us:.2f}x" if mine and bare.cpu_us else "",
                    ]
                )
    print()
    print_table(
        [
            "subs",
            "app",
            "p50 ms",
            "p99 ms",
            "saves/s",
            "cpu us/delivery",
            "delivered",
            "expected",
            f"p50 vs {base}",
            f"rate vs {base}",
            f"cpu vs {base}",
        ],
        rows,
    )
    print()
    for count in counts:
        djira, bare = results[("djira", count)], results[(base, count)]
        if args.history:
            print(
                f"{count} subscribers, history on vs off: "
                f"p50 {djira.p50_round / bare.p50_round:.2f}x "
                f"(target <= 1.10x), rate {djira.rate / bare.rate if bare.rate else 0:.2f}x "
                f"(target >= 0.90x), server CPU per save "
                f"{djira.cpu_ms / bare.cpu_ms if bare.cpu_ms else 0:.2f}x (target <= 1.10x), "
                f"loss {djira.expected - djira.delivered} (target 0)"
            )
            continue
        print(
            f"{count} subscribers: server CPU per delivery {djira.cpu_us:.1f} us vs bare "
            f"{bare.cpu_us:.1f} us = {djira.cpu_us / bare.cpu_us if bare.cpu_us else 0:.2f}x "
            f"(target <= 0.33x); p50 {djira.p50_round / bare.p50_round:.2f}x bare "
            f"(target <= 0.5x at 1,000), p99 {djira.p99_round:.1f} vs {bare.p99_round:.1f} ms; "
            f"rate {djira.rate / bare.rate if bare.rate else 0:.2f}x bare; "
            f"loss {djira.expected - djira.delivered} (target 0)"
        )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
