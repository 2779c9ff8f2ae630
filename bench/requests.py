"""Request benchmark: djira's model retrieve against a bare python-socketio handler.

    python bench/requests.py                      # 1, 16 and 64 clients, about 2.5 minutes
    python bench/requests.py --clients 64 --duration 20 --rounds 3
    python bench/requests.py --variant patched=/tmp/djira-copy   # a patched tree, same run

Both servers run the example project under uvicorn on CPU 0, on one temporary SQLite
database; a driver process on CPU 1 sends ``{"pk": n}`` on ``articles`` with acks. See
bench/README.md for what the figures mean.
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
import statistics  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

from bench.common import (  # noqa: E402
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


class Payloads:
    """``{"pk": n}`` cycling over the seeded pks, spread across clients (picklable)."""

    def __init__(self, pks: range) -> None:
        self.pks = pks

    def __call__(self, client: int, sequence: int) -> dict[str, Any]:
        return {"pk": self.pks[(client * 7919 + sequence * 31) % len(self.pks)]}


def djira_ok(reply: Any) -> bool:
    return isinstance(reply, dict) and reply.get("status") == 200 and "id" in reply["data"]


def bare_ok(reply: Any) -> bool:
    return isinstance(reply, dict) and "id" in reply


CHECKS = {"djira": djira_ok, "bare": bare_ok}

# Issue 8's targets for djira against the bare handler, by number of clients.
TARGETS = {1: 1.0, 64: 1.5}


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

    with tempfile.TemporaryDirectory(prefix="djira-bench-") as tmp:
        db = Path(tmp) / "bench.sqlite3"
        pks = seed_database(db, args.articles)
        env = server_env(db)
        print(
            f"{len(pks)} articles; {args.rounds} rounds of {args.duration:g}s per app and level "
            f"after {args.warmup:g}s warm-up, each round on freshly started servers",
            file=sys.stderr,
        )
        specs = {name: (APPS[name], env) for name in apps if name not in variants}
        for name, path in variants.items():
            pythonpath = f"{path}{os.pathsep}{env['PYTHONPATH']}"
            specs[name] = (APPS["djira"], {**env, "PYTHONPATH": pythonpath})
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
                            Payloads(pks),
                            "articles",
                            warmup=args.warmup,
                            check=CHECKS.get(name, djira_ok),
                            server_pid=server.pid,
                        )
                        runs[name, clients].append(stats)
                        print(
                            f"  round {round_index + 1} {name:>6} x{clients:<3} "
                            f"{stats.rps:8.0f} req/s  p50 {stats.p50_ms:6.2f} ms  "
                            f"p99 {stats.p99_ms:6.2f} ms  errors {stats.errors}",
                            file=sys.stderr,
                        )

    rows: list[list[Any]] = []
    ratios: dict[tuple[str, int], float] = {}
    for clients in levels:
        merged = {name: Stats.merge(runs[name, clients]) for name in apps}
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
    for clients in levels:
        target = TARGETS.get(clients)
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
                verdict = "meets" if statistics.median(per_round) >= target else "misses"
                line += f", {verdict} the {target:g}x target"
            print(line)
    return 1 if any(s.errors for r in runs.values() for s in r) else 0


if __name__ == "__main__":
    raise SystemExit(main())
