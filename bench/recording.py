"""Recording benchmark: request throughput with the admin's traffic recording on and off.

    python bench/recording.py                      # 64 clients, 3 rounds, about 2 minutes
    python bench/recording.py --clients 16,64 --duration 20 --rounds 3

Four servers run the example project on CPU 0 over one seeded SQLite database, in the same
run, differing only in how the admin records (``DJIRA_BENCH_RECORDING``):

- ``off``: no listener on the monitor (``monitor.listeners = []``): the baseline;
- ``idle``: the default recorder with no admin page open: counters only (the production case
  while nobody looks);
- ``watched``: the recorder as while a traffic page is open, with the default settings: up to
  ``TRAFFIC_RECORD_RATE`` (100) requests a second recorded in full (two redacted rows and the
  request's trace: middleware, permissions, every SQL query through a wrapper, the reply),
  the rest counted only;
- ``full``: as ``watched`` with ``TRAFFIC_RECORD_RATE: None``: every request recorded in full,
  to show what one recorded request costs.

A driver on CPU 1 sends ``articles`` retrieves (``{"pk": n, "data": {"token": ...}}``, so
redaction has work to do) with acks, in a closed loop. The target: ``watched`` and ``idle``
at least 0.95x of ``off``. Nothing asserts on timings.

This module is also the servers' ASGI app: ``bench.recording:application``.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path
from typing import Any

MODES = ("off", "idle", "watched", "full")


def _configured_application() -> Any:
    """The example's ASGI app with the recorder set as ``DJIRA_BENCH_RECORDING`` says."""
    from example.asgi import application  # the example project, as shipped

    from djira.admin.recorder import Budget, TrafficRecorder
    from djira.settings import jira_settings

    monitor = jira_settings.SOCKET_INSTANCE.djira_consumer.monitor
    mode = os.environ["DJIRA_BENCH_RECORDING"]
    if mode == "off":
        monitor.listeners = []
    elif mode in ("watched", "full"):
        recorder = monitor.find(TrafficRecorder)
        # As if a traffic page polled for ever (a page renews this every second).
        recorder.watch(10**9)
        if mode == "full":
            recorder.budget = Budget(None)  # TRAFFIC_RECORD_RATE: None
    elif mode != "idle":
        raise SystemExit(f"DJIRA_BENCH_RECORDING must be one of {MODES}, not {mode!r}")
    return application


if os.environ.get("DJIRA_BENCH_RECORDING"):  # imported by uvicorn as a server
    application = _configured_application()


class Payloads:
    """A retrieve of a seeded article, carrying a secret for the redaction to mask."""

    def __init__(self, pks: range) -> None:
        self.pks = pks

    def __call__(self, client: int, sequence: int) -> dict[str, Any]:
        pk = self.pks[(client * 7919 + sequence * 31) % len(self.pks)]
        return {"pk": pk, "requestId": sequence, "data": {"token": "not-recorded", "n": sequence}}


def micro(n: int = 20_000) -> dict[str, float]:
    """Microseconds per ``Monitor.request`` call in each mode, in this process (no server).

    The servers' figures are noisy on a busy machine; this one isolates what recording adds
    per request, to compare with the ``server us/req`` column.
    """
    import time

    repo = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(repo), str(repo / "example")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
    import django

    django.setup()
    from django.contrib.auth.models import AnonymousUser

    from djira import json as djira_json
    from djira.admin.recorder import Budget, TrafficRecorder
    from djira.lifecycle import Monitor
    from djira.scope import Scope
    from djira.trace import Trace

    def record(trace: Trace) -> None:
        # What the request path records for a retrieve: middleware, permission, its query.
        trace.add("middleware", middleware="HeaderMiddleware", phase="enter")
        trace.add("permission", check="has_permission", granted=True, permission="AllowAny")
        trace.sql_count, trace.sql_seconds = 1, 0.00005
        trace.add(
            "sql",
            sql='SELECT "blog_article"."id", "blog_article"."title" FROM "blog_article" '
            'WHERE "blog_article"."id" = %s LIMIT 21',
            params=[7],
            ms=0.05,
            error=None,
        )
        trace.add("middleware", middleware="HeaderMiddleware", phase="leave", status=200)
        trace.add("reply", status=200, ms=1.0)

    data = {
        "id": 7,
        "title": "An article",
        "body": "x" * 400,
        "published": True,
        "author_id": 1,
        "created": "2024-01-01T00:00:00Z",
        "updated": "2024-01-01T00:00:00Z",
    }
    out = {}
    for mode in MODES:
        recorder = TrafficRecorder()
        monitor = Monitor(listeners=[] if mode == "off" else [recorder])
        if mode in ("watched", "full"):
            recorder.watch(10**9)
        if mode == "full":
            recorder.budget = Budget(None)
        scope = Scope(
            sid="s" * 20,
            event="articles",
            action="GET",
            pk=7,
            user=AnonymousUser(),
            data={"token": "not-recorded", "n": 1},
            request_id=1,
        )
        reply = {
            "status": 200,
            "event": "articles",
            "namespace": None,
            "action": "GET",
            "requestId": 1,
            "data": data,
        }
        scope.reply_size = len(djira_json.dumps(reply))  # as djira.handler sets it
        started = time.perf_counter()
        for _ in range(n):
            # As djira.handler asks, per request. This loop runs far faster than a server, so
            # ``watched`` here is nearly all requests past the budget, counted only.
            scope.trace = monitor.start_trace() if monitor.listeners else None
            if scope.trace is not None:
                record(scope.trace)
            monitor.request(scope, reply, 0.001)
        out[mode] = (time.perf_counter() - started) / n * 1e6
    return out


def interleaved(cycles: int, articles: int, clients: int = 16, block: int = 800) -> int:
    """CPU per request of each mode in one process, modes switched between blocks
    (bench/_recording_interleaved.py)."""
    import json
    import subprocess
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import REPO, _pin_prefix, print_table, seed_database, server_env

    with tempfile.TemporaryDirectory(prefix="djira-bench-") as tmp:
        db = Path(tmp) / "bench.sqlite3"
        pks = seed_database(db, articles)
        command = [sys.executable, str(REPO / "bench" / "_recording_interleaved.py")]
        command += [str(v) for v in (pks.start, pks.stop - 1, clients, block, cycles)]
        result = subprocess.run(
            _pin_prefix(0) + command,
            env={**os.environ, **server_env(db)},
            cwd=str(REPO),
            capture_output=True,
            text=True,
            check=False,
        )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        print(result.stdout, result.stderr, file=sys.stderr)
        return 1
    per_mode: dict[str, list[float]] = json.loads(lines[-1].removeprefix("RESULT "))
    off = per_mode["off"]
    rows = []
    for mode, costs in per_mode.items():
        # Throughput relative to off, cycle by cycle (CPU-bound: the inverse CPU ratio).
        ratios = [o / c for o, c in zip(off, costs, strict=True)]
        rows.append(
            [
                mode,
                f"{statistics.median(costs):.0f}",
                f"{statistics.median(costs) - statistics.median(off):+.1f}",
                f"{statistics.median(ratios):.3f}x",
                f"{min(ratios):.3f}-{max(ratios):.3f}",
            ]
        )
    print(f"in-process, {cycles} cycles of {block} requests per mode, {clients} clients, one CPU")
    print_table(["recording", "CPU us/req", "vs off", "throughput vs off", "range"], rows)
    return 0


def ok(reply: Any) -> bool:
    return isinstance(reply, dict) and reply.get("status") == 200 and "id" in reply["data"]


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import (
        Stats,
        add_run_options,
        drive,
        print_table,
        seed_database,
        server_env,
        servers_started,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_options(parser, duration=10.0)
    parser.add_argument("--micro-only", action="store_true", help="only the in-process figures")
    parser.add_argument(
        "--interleaved",
        type=int,
        metavar="CYCLES",
        default=0,
        help="instead of servers: one in-process app, modes switched every block (CYCLES)",
    )
    args = parser.parse_args(argv)
    if args.interleaved:
        return interleaved(args.interleaved, args.articles)
    costs = micro()
    print(
        "in-process cost of Monitor.request: "
        + ", ".join(f"{mode} {us:.2f} us" for mode, us in costs.items()),
        file=sys.stderr,
    )
    if args.micro_only:
        return 0
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    runs: dict[tuple[str, int], list[Stats]] = {(m, n): [] for m in MODES for n in levels}

    with tempfile.TemporaryDirectory(prefix="djira-bench-") as tmp:
        db = Path(tmp) / "bench.sqlite3"
        pks = seed_database(db, args.articles)
        env = server_env(db)
        for round_index in range(args.rounds):
            # Fresh processes every round: two starts of the same server differ by several
            # per cent (memory layout, hash seed), as much as the costs measured here.
            specs = {
                mode: ("bench.recording:application", {**env, "DJIRA_BENCH_RECORDING": mode})
                for mode in MODES
            }
            with servers_started(specs) as servers:
                for clients in levels:
                    # Rotate the order so drift during the run hits every mode alike.
                    shift = round_index % len(MODES)
                    for mode in MODES[shift:] + MODES[:shift]:
                        server = servers[mode]
                        stats = drive(
                            server.url,
                            clients,
                            args.duration,
                            Payloads(pks),
                            "articles",
                            warmup=args.warmup,
                            check=ok,
                            server_pid=server.pid,
                        )
                        runs[mode, clients].append(stats)
                        print(
                            f"  round {round_index + 1} {mode:>7} x{clients:<3} "
                            f"{stats.rps:8.0f} req/s  errors {stats.errors}",
                            file=sys.stderr,
                        )

    rows: list[list[Any]] = []
    verdicts = []
    for clients in levels:
        merged = {mode: Stats.merge(runs[mode, clients]) for mode in MODES}
        base = merged["off"].rps or 1.0
        for mode in MODES:
            stats = merged[mode]
            us = stats.server_us_per_request
            rows.append(
                [
                    clients,
                    mode,
                    f"{stats.rps:.0f}",
                    f"{stats.p50_ms:.2f}",
                    f"{stats.p99_ms:.2f}",
                    "" if us is None else f"{us:.0f}",
                    f"{stats.rps / base:.3f}x",
                    stats.errors,
                ]
            )
        for mode in ("idle", "watched", "full"):
            per_round = [
                mine.rps / off.rps
                for mine, off in zip(runs[mode, clients], runs["off", clients], strict=True)
                if off.rps
            ]
            ratio = statistics.median(per_round)
            verdicts.append(
                f"{mode}/off at {clients} clients: median {ratio:.3f}x over {len(per_round)} "
                f"rounds (range {min(per_round):.3f}-{max(per_round):.3f}), "
                + (
                    "no target: every request recorded in full"
                    if mode == "full"
                    else f"{'meets' if ratio >= 0.95 else 'misses'} the 0.95x target"
                )
            )
    print()
    print_table(
        ["clients", "recording", "req/s", "p50 ms", "p99 ms", "server us/req", "vs off", "errors"],
        rows,
    )
    print()
    print("\n".join(verdicts))
    print(
        "per request, recording adds "
        + ", ".join(
            f"{mode} {costs[mode] - costs['off']:.2f} us" for mode in ("idle", "watched", "full")
        )
        + " (in-process, against the 'server us/req' above)"
    )
    return 1 if any(s.errors for r in runs.values() for s in r) else 0


if __name__ == "__main__":
    raise SystemExit(main())
