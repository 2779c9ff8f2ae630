"""Request benchmark: djira's model retrieve against a bare python-socketio handler.

    python bench/requests.py                      # 1, 16 and 64 clients, about 2.5 minutes
    python bench/requests.py --clients 64 --duration 20 --rounds 3
    python bench/requests.py --variant patched=/tmp/djira-copy   # a patched tree, same run
    python bench/requests.py --clients 1,64 --serializer three   # a three-field serializer
    python bench/requests.py --clients 1,64 --echo               # no database: the floor
    python bench/requests.py --ceiling-only                      # the in-process ceiling

Both servers run the example project under uvicorn on CPU 0, on one temporary SQLite
database; a driver process on CPU 1 sends ``{"pk": n}`` on ``articles`` with acks (with
``--echo``, ``{"namespace": "echo", "data": {"pk": n}}`` on ``echo``). At the end the same
retrieve's ORM + serializer cost is timed in this process, on CPU 0 and the same database:
the ceiling, beside each side's cost per request. See bench/README.md for what the figures
mean.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the ``requests`` package, which python-socketio imports: keep this
# directory off sys.path and import the helpers through the repository root instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from bench.common import (  # noqa: E402
    EXAMPLE_DIR,
    Stats,
    drive,
    print_table,
    seed_database,
    server_env,
    servers_started,
)

APPS = {
    "djira": "example.asgi:application",
    "bare": "bench.bare_app:application",
}
# The example plus the three-field ``articles`` hook and the ``echo`` hook, registered by hand.
DJIRA_EXTRA = "bench._requests_djira:application"
SERIALIZER_ENV = "DJIRA_BENCH_SERIALIZER"  # read by both servers (bench/_requests_serializers.py)


class Payloads:
    """``{"pk": n}`` cycling over the seeded pks, spread across clients (picklable)."""

    def __init__(self, pks: range) -> None:
        self.pks = pks

    def __call__(self, client: int, sequence: int) -> dict[str, Any]:
        return {"pk": self.pks[(client * 7919 + sequence * 31) % len(self.pks)]}


class EchoPayloads(Payloads):
    """``{"namespace": "echo", "data": {"pk": n}}``: djira's ``echo`` route; bare ignores it."""

    def __call__(self, client: int, sequence: int) -> dict[str, Any]:
        return {"namespace": "echo", "data": super().__call__(client, sequence)}


def djira_ok(reply: Any) -> bool:
    return isinstance(reply, dict) and reply.get("status") == 200 and "id" in reply["data"]


def bare_ok(reply: Any) -> bool:
    return isinstance(reply, dict) and "id" in reply


def djira_echo_ok(reply: Any) -> bool:
    return isinstance(reply, dict) and reply.get("status") == 200 and "pk" in reply["data"]


def bare_echo_ok(reply: Any) -> bool:
    return isinstance(reply, dict) and "pk" in reply


CHECKS = {"djira": djira_ok, "bare": bare_ok}
ECHO_CHECKS = {"djira": djira_echo_ok, "bare": bare_echo_ok}

# Issue 19's targets for djira's model retrieve against the bare handler, by number of
# clients, for either serializer (issue 8's were 1.0x and 1.5x). The echo has none.
TARGETS = {1: 1.1, 64: 1.6}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--clients", default="1,16,64", help="comma-separated concurrency levels (default 1,16,64)"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per run (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each run (default 2)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="runs per app and level, alternating which app goes first (default 2)",
    )
    parser.add_argument("--articles", type=int, default=1000, help="rows seeded (default 1000)")
    parser.add_argument(
        "--apps", default="djira,bare", help="which of djira,bare to run (default both)"
    )
    parser.add_argument(
        "--serializer",
        choices=["example", "three"],
        default="example",
        help="what both sides serialize: the example's ArticleSerializer (default) or a plain "
        "three-field ModelSerializer of Article",
    )
    parser.add_argument(
        "--echo",
        action="store_true",
        help="serve an echo instead of the retrieve (no database): the per-request floor",
    )
    parser.add_argument(
        "--lookups",
        type=int,
        default=2000,
        help="lookups timed for the in-process ceiling (default 2000; 0: no ceiling)",
    )
    parser.add_argument(
        "--ceiling-only",
        action="store_true",
        help="only seed the database and time the in-process ceiling (no servers)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="also run the example against the djira package of another checkout at PATH "
        "(e.g. a patched copy), as app LABEL; repeatable",
    )
    return parser.parse_args(argv)


def fmt(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def measure_ceiling(
    db: Path, pks: range, serializer: str, lookups: int, seed: int = 19
) -> tuple[float, float, float]:
    """The retrieve's own work, in this process: ``Serializer(Article.objects.get(pk=n)).data``.

    Django is set up here with the servers' settings and database (call it after the last
    drive: the drivers are forked from this process), pinned to CPU 0 where the servers ran.
    Returns the mean wall, median wall and mean CPU microseconds per lookup of random pks.
    """
    os.environ.update(server_env(db, **{SERIALIZER_ENV: serializer}))
    if str(EXAMPLE_DIR) not in sys.path:
        sys.path.append(str(EXAMPLE_DIR))
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    import django

    django.setup()
    from blog.models import Article
    from django.db import connections

    from bench._requests_serializers import selected

    serializer_class = selected()
    rng = random.Random(seed)
    picks = [rng.choice(pks) for _ in range(lookups)]
    for pk in picks[:200]:  # warm-up: connection, field caches
        serializer_class(Article.objects.get(pk=pk)).data  # noqa: B018
    times: list[float] = []
    cpu_start = time.process_time()
    for pk in picks:
        began = time.perf_counter()
        serializer_class(Article.objects.get(pk=pk)).data  # noqa: B018
        times.append(time.perf_counter() - began)
    cpu = time.process_time() - cpu_start
    connections.close_all()
    return (
        statistics.fmean(times) * 1e6,
        statistics.median(times) * 1e6,
        cpu / len(picks) * 1e6,
    )


def print_ceiling(
    ceiling: tuple[float, float, float],
    serializer: str,
    lookups: int,
    levels: list[int],
    apps: list[str],
    merged: dict[tuple[str, int], Stats],
) -> None:
    mean, median, cpu = ceiling
    name = "ArticleSerializer" if serializer == "example" else "ThreeFieldArticleSerializer"
    print()
    print(
        f"ceiling: {name}(Article.objects.get(pk=n)).data in-process on CPU 0, {lookups} "
        f"random pks: mean {mean:.0f} us (median {median:.0f} us, CPU {cpu:.0f} us)"
    )
    if not merged:
        return
    rows: list[list[Any]] = []
    for clients in levels:
        for app in apps:
            stats = merged[app, clients]
            wall = 1e6 / stats.rps if stats.rps else None
            server = stats.server_us_per_request
            rows.append(
                [
                    clients,
                    app,
                    fmt(wall, 0),
                    fmt(None if wall is None else wall - mean, 0),
                    fmt(server, 0),
                    fmt(None if server is None else server - cpu, 0),
                    "" if not server else f"{(server - cpu) / server:.0%}",
                ]
            )
    print_table(
        [
            "clients",
            "app",
            "us/req (1e6/req/s)",
            "- ceiling",
            "server cpu us/req",
            "- ceiling cpu",
            "overhead share of cpu",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    apps = [a.strip() for a in args.apps.split(",") if a.strip()]
    unknown = set(apps) - set(APPS)
    if unknown or not apps or not levels or args.rounds < 1:
        raise SystemExit(f"bad --apps/--clients/--rounds (apps: {', '.join(APPS)})")
    variants: dict[str, Path] = {}
    for spec in args.variant:
        label, _, path = spec.partition("=")
        if not label or label in APPS or not (Path(path) / "djira" / "__init__.py").is_file():
            raise SystemExit(f"--variant {spec!r}: expected LABEL=PATH of a checkout with djira/")
        variants[label] = Path(path).resolve()
    apps = [a for a in apps if a != "bare"] + list(variants) + [a for a in apps if a == "bare"]
    runs: dict[tuple[str, int], list[Stats]] = {(a, n): [] for a in apps for n in levels}
    event = "echo" if args.echo else "articles"
    checks = ECHO_CHECKS if args.echo else CHECKS
    payload_class = EchoPayloads if args.echo else Payloads
    plain = args.serializer == "example" and not args.echo
    djira_app = APPS["djira"] if plain else DJIRA_EXTRA
    ceiling = None

    with tempfile.TemporaryDirectory(prefix="djira-bench-") as tmp:
        db = Path(tmp) / "bench.sqlite3"
        pks = seed_database(db, args.articles)
        if args.ceiling_only:
            ceiling = measure_ceiling(db, pks, args.serializer, args.lookups)
            print_ceiling(ceiling, args.serializer, args.lookups, levels, apps, {})
            return 0
        env = server_env(db, **{SERIALIZER_ENV: args.serializer})
        what = "echo" if args.echo else f"retrieve with the {args.serializer} serializer"
        print(
            f"{what}; {len(pks)} articles; {args.rounds} rounds of {args.duration:g}s per app "
            f"and level after {args.warmup:g}s warm-up, each round on freshly started servers; "
            f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
            file=sys.stderr,
        )
        specs = {
            name: (djira_app if name == "djira" else APPS[name], env)
            for name in apps
            if name not in variants
        }
        for name, path in variants.items():
            pythonpath = f"{path}{os.pathsep}{env['PYTHONPATH']}"
            specs[name] = (djira_app, {**env, "PYTHONPATH": pythonpath})
        for round_index in range(args.rounds):
            # Fresh processes every round: two starts of the same server differ by several
            # per cent (memory layout, hash seed), which one long-lived pair would bake in.
            with servers_started(specs) as servers:
                if round_index == 0 and not all(s.pinned for s in servers.values()):
                    print("servers and driver NOT pinned to CPUs 0 and 1", file=sys.stderr)
                for clients in levels:
                    order = apps if round_index % 2 == 0 else apps[::-1]
                    for name in order:
                        server = servers[name]
                        stats = drive(
                            server.url,
                            clients,
                            args.duration,
                            payload_class(pks),
                            event,
                            warmup=args.warmup,
                            check=checks.get(name, checks["djira"]),
                            server_pid=server.pid,
                        )
                        runs[name, clients].append(stats)
                        print(
                            f"  round {round_index + 1} {name:>6} x{clients:<3} "
                            f"{stats.rps:8.0f} req/s  p50 {stats.p50_ms:6.2f} ms  "
                            f"p99 {stats.p99_ms:6.2f} ms  errors {stats.errors}",
                            file=sys.stderr,
                        )
        if not args.echo and args.lookups > 0:
            ceiling = measure_ceiling(db, pks, args.serializer, args.lookups)

    rows: list[list[Any]] = []
    ratios: dict[tuple[str, int], float] = {}
    all_merged: dict[tuple[str, int], Stats] = {}
    for clients in levels:
        merged = {name: Stats.merge(runs[name, clients]) for name in apps}
        all_merged.update({(name, clients): stats for name, stats in merged.items()})
        bare = merged.get("bare")
        for name in apps:
            stats = merged[name]
            ratio = ""
            if name != "bare" and bare is not None and bare.rps:
                ratios[name, clients] = stats.rps / bare.rps
                ratio = f"{ratios[name, clients]:.3f}x"
            rows.append(
                [
                    clients,
                    name,
                    f"{stats.rps:.0f}",
                    fmt(stats.p50_ms),
                    fmt(stats.p99_ms),
                    fmt(stats.server_us_per_request, 0),
                    f"{stats.driver_load:.0%}",
                    stats.errors,
                    ratio,
                ]
            )
    print()
    print_table(
        [
            "clients",
            "app",
            "req/s",
            "p50 ms",
            "p99 ms",
            "server us/req",
            "driver cpu",
            "errors",
            "vs bare",
        ],
        rows,
    )
    print()
    print(f"{what}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} at the end")
    for clients in levels:
        target = None if args.echo else TARGETS.get(clients)
        for name in apps:
            if name == "bare" or "bare" not in apps:
                continue
            per_round = [
                mine.rps / bare.rps
                for mine, bare in zip(runs[name, clients], runs["bare", clients], strict=True)
                if bare.rps
            ]
            if not per_round:
                continue
            line = (
                f"{name}/bare at {clients} clients: median {statistics.median(per_round):.3f}x "
                f"over {len(per_round)} rounds (range {min(per_round):.3f}-{max(per_round):.3f})"
            )
            if target is not None:
                verdict = "PASS" if statistics.median(per_round) >= target else "MISS"
                line += f": {verdict} against the {target:g}x target"
            print(line)
    if ceiling is not None:
        print_ceiling(ceiling, args.serializer, args.lookups, levels, apps, all_merged)
    return 1 if any(s.errors for r in runs.values() for s in r) else 0


if __name__ == "__main__":
    raise SystemExit(main())
