"""Garbage-collector benchmark: the example under load with djira's GC tuning on and off.

    python bench/collector.py                      # 64 clients, 3 rounds, about 1.5 minutes
    python bench/collector.py --clients 1,64 --rounds 4

Two servers run the example project on CPU 0 over one seeded SQLite database, freshly
started every round, differing only in ``GC_FREEZE``/``GC_THRESHOLD`` (djira.runtime):

- ``tuned``: the defaults (start-up frozen, first threshold 10,000);
- ``untuned``: ``GC_FREEZE: False, GC_THRESHOLD: None`` (CPython's own collector settings).

A driver on CPU 1 sends ``articles`` retrieves with acks in a closed loop. Each server
times every collection (``gc.callbacks``) and writes its totals to a file the benchmark
reads before and after a run, so the table shows what collections cost per request and
the longest one (a pause of the event loop and of every worker). Nothing asserts on timings.

This module is also the servers' ASGI app: ``bench.collector:application``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

MODES = ("tuned", "untuned")


def _configured_application() -> Any:
    """The example's ASGI app, GC-tuned or not as ``DJIRA_BENCH_GC`` says, with GC timing."""
    import gc
    import threading
    import time

    import django
    from django.conf import settings

    django.setup()
    if os.environ["DJIRA_BENCH_GC"] == "untuned":
        # Before the example's asgi module builds (and starts) its consumer.
        settings.DJIRA_SETTINGS = {
            **settings.DJIRA_SETTINGS,
            "GC_FREEZE": False,
            "GC_THRESHOLD": None,
        }
    from example.asgi import application

    totals = {"seconds": 0.0, "collections": 0, "longest": 0.0}
    started = [0.0]

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        seconds = time.perf_counter() - started[0]
        totals["seconds"] += seconds
        totals["collections"] += 1
        totals["longest"] = max(totals["longest"], seconds)

    gc.callbacks.append(timed)
    path = Path(os.environ["DJIRA_BENCH_GC_FILE"])

    def publish() -> None:
        while True:
            path.write_text(json.dumps(totals))
            time.sleep(0.2)

    threading.Thread(target=publish, daemon=True).start()
    return application


if os.environ.get("DJIRA_BENCH_GC"):  # imported by uvicorn as a server
    application = _configured_application()


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile
    import time

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
    from bench.requests import Payloads, djira_ok

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_options(parser, duration=8.0)
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    runs: dict[tuple[str, int], list[tuple[Stats, dict[str, float]]]] = {
        (m, n): [] for m in MODES for n in levels
    }

    def read(path: Path) -> dict[str, float]:
        return {k: float(v) for k, v in json.loads(path.read_text()).items()}

    with tempfile.TemporaryDirectory(prefix="djira-bench-") as tmp:
        db = Path(tmp) / "bench.sqlite3"
        pks = seed_database(db, args.articles)
        env = server_env(db)
        for round_index in range(args.rounds):
            files = {mode: Path(tmp) / f"gc-{mode}.json" for mode in MODES}
            specs = {
                mode: (
                    "bench.collector:application",
                    {**env, "DJIRA_BENCH_GC": mode, "DJIRA_BENCH_GC_FILE": str(files[mode])},
                )
                for mode in MODES
            }
            with servers_started(specs) as servers:
                for clients in levels:
                    order = MODES if round_index % 2 == 0 else MODES[::-1]
                    for mode in order:
                        server = servers[mode]
                        drive(server.url, clients, 1, Payloads(pks), "articles", warmup=0)
                        time.sleep(0.5)
                        before = read(files[mode])
                        before["longest"] = 0.0
                        stats = drive(
                            server.url,
                            clients,
                            args.duration,
                            Payloads(pks),
                            "articles",
                            warmup=args.warmup,
                            check=djira_ok,
                            server_pid=server.pid,
                        )
                        time.sleep(0.5)
                        after = read(files[mode])
                        # Totals include the warm-up: scale to the measured requests.
                        share = args.duration / (args.duration + args.warmup)
                        delta = {
                            "seconds": (after["seconds"] - before["seconds"]) * share,
                            "collections": (after["collections"] - before["collections"]) * share,
                            "longest": after["longest"],
                        }
                        runs[mode, clients].append((stats, delta))
                        print(
                            f"  round {round_index + 1} {mode:>7} x{clients:<3} "
                            f"{stats.rps:8.0f} req/s  gc {delta['seconds']:.3f}s  "
                            f"errors {stats.errors}",
                            file=sys.stderr,
                        )

    rows: list[list[Any]] = []
    for clients in levels:
        for mode in MODES:
            pairs = runs[mode, clients]
            stats = Stats.merge([s for s, _ in pairs])
            gc_seconds = sum(d["seconds"] for _, d in pairs)
            us = stats.server_us_per_request
            rows.append(
                [
                    clients,
                    mode,
                    f"{stats.rps:.0f}",
                    f"{stats.p50_ms:.2f}",
                    f"{stats.p99_ms:.2f}",
                    "" if us is None else f"{us:.0f}",
                    f"{gc_seconds / max(stats.requests, 1) * 1e6:.0f}",
                    f"{sum(d['collections'] for _, d in pairs) / stats.elapsed:.0f}",
                    f"{statistics.median(d['longest'] for _, d in pairs) * 1000:.0f}",
                    stats.errors,
                ]
            )
    print()
    print_table(
        [
            "clients",
            "gc",
            "req/s",
            "p50 ms",
            "p99 ms",
            "server us/req",
            "gc us/req",
            "collections/s",
            "longest ms",
            "errors",
        ],
        rows,
    )
    print("\n'longest ms': the median over rounds of each run's longest collection")
    return 1 if any(s.errors for r in runs.values() for s, _ in r) else 0


if __name__ == "__main__":
    raise SystemExit(main())
