"""Telemetry benchmark: what METRICS and TRACING cost a request, in one run.

    python bench/telemetry.py                       # 16 clients, 2 rounds of 8 s, ~2 minutes
    python bench/telemetry.py --clients 64 --rounds 3 --duration 10
    python bench/telemetry.py --baseline <git ref>  # "before": djira at another commit

Six servers of the example project, one at a time (uvicorn on CPU 0, one SQLite database,
the load from a driver on CPU 1, ``{"pk": n}`` on ``articles`` with acks, as
bench/requests.py):

- ``before``: djira as committed before djira.telemetry existed (``--baseline``);
- ``off``, ``metrics``, ``tracing``, ``both``: djira as committed now (``HEAD``), with
  neither, ``METRICS``, ``TRACING`` (the OpenTelemetry SDK, a batch processor, an exporter
  that drops spans), ``TRACING`` with the SDK's sampler keeping one request in ten
  (``sampled``), or both (every request recorded).

Both trees (``djira/`` and ``example/``) are ``git archive`` copies of commits, so work in
progress in the working tree is not measured. Ratios are req/s against ``off`` (and
``off`` against ``before``); the issue's targets: tracing >= 0.9x, metrics >= 0.95x, off
>= 0.98x of before. "by CPU" is the same ratio from the server's CPU time per request,
which other load on the machine moves much less than req/s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    _SEED,
    REPO,
    Stats,
    drive,
    print_table,
    server_env,
    start_server,
)
from bench.requests import Payloads, djira_ok  # noqa: E402

APP = "bench._telemetry_app:application"
MODES = ("off", "metrics", "tracing", "sampled", "both")
# name -> (compared with, target ratio of req/s)
TARGETS = {
    "off": ("before", 0.98),
    "metrics": ("off", 0.95),
    "tracing": ("off", 0.9),
    "sampled": ("off", None),
    "both": ("off", None),
}


def first_telemetry_commit() -> str:
    out = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "djira/telemetry/__init__.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not out:
        raise SystemExit("no commit adds djira/telemetry: pass --baseline")
    return out[-1] + "^"


def archive(ref: str, into: Path) -> Path:
    """``djira/`` and ``example/`` as committed at ``ref``, unpacked under ``into``."""
    into.mkdir(parents=True)
    tar = subprocess.run(
        ["git", "archive", ref, "djira", "example"], cwd=REPO, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=tar, check=True)
    return into


def environment(tree: Path, db: Path, mode: str) -> dict[str, str]:
    """The example of ``tree`` on ``db``, its djira first on the path, then this bench/."""
    env = server_env(db, DJANGO_SETTINGS_MODULE="bench._telemetry_settings")
    path = os.pathsep.join([str(tree), str(tree / "example"), str(REPO)])
    return {**env, "PYTHONPATH": path, "DJIRA_BENCH_TELEMETRY": mode}


def seed(tree: Path, db: Path, articles: int) -> range:
    """Migrate ``db`` with ``tree``'s example and fill it; the articles' pk range."""
    code = _SEED.format(command="migrate", args="verbosity=0, ", articles=articles)
    result = subprocess.run(
        [sys.executable, str(tree / "example" / "manage.py"), "shell", "-c", code],
        env={**os.environ, **environment(tree, db, "off")},
        cwd=str(tree),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("PKS ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"seeding failed:\n{result.stdout}\n{result.stderr}")
    low, high = (int(v) for v in lines[-1].split()[1:])
    return range(low, high + 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds (8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds (2)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, fresh servers (2)")
    parser.add_argument("--articles", type=int, default=1000, help="rows seeded (1000)")
    parser.add_argument("--baseline", default=None, help="git ref of 'before'")
    parser.add_argument("--head", default="HEAD", help="git ref of the measured djira")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    baseline = args.baseline or first_telemetry_commit()
    names = ["before", *MODES]
    runs: dict[str, list[Stats]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="djira-bench-") as tmp:
        before = archive(baseline, Path(tmp) / "before")
        head = archive(args.head, Path(tmp) / "head")
        db = Path(tmp) / "bench.sqlite3"
        pks = seed(head, db, args.articles)
        trees = {"before": before, **dict.fromkeys(MODES, head)}
        print(
            f"before = {baseline}, others = {args.head}; {args.clients} clients, "
            f"{args.rounds} rounds of {args.duration:g}s after {args.warmup:g}s warm-up",
            file=sys.stderr,
        )
        for round_index in range(args.rounds):
            # Fresh processes every round, one at a time on CPU 0, in alternating order.
            order = names if round_index % 2 == 0 else names[::-1]
            for name in order:
                tree = trees[name]
                mode = "off" if name == "before" else name
                env = environment(tree, db, mode)
                with start_server(APP, env, app_dir=tree / "example") as server:
                    stats = drive(
                        server.url,
                        args.clients,
                        args.duration,
                        Payloads(pks),
                        "articles",
                        warmup=args.warmup,
                        check=djira_ok,
                        server_pid=server.pid,
                    )
                runs[name].append(stats)
                print(
                    f"  round {round_index + 1} {name:>8} {stats.rps:8.0f} req/s  "
                    f"p50 {stats.p50_ms:6.2f} ms  errors {stats.errors}",
                    file=sys.stderr,
                )
    merged = {name: Stats.merge(runs[name]) for name in names}
    rows = []
    failed = False
    for name in names:
        stats = merged[name]
        ratio = cpu_ratio = verdict = ""
        us = stats.server_us_per_request
        if name in TARGETS:
            against, target = TARGETS[name]
            base = merged[against]
            value = stats.rps / base.rps if base.rps else 0.0
            ratio = f"{value:.3f}x {against}"
            # The same ratio from CPU time per request: what the server spent, whatever
            # else the machine ran meanwhile (req/s moves with any other load on CPU 0).
            base_us = base.server_us_per_request
            cpu_value = base_us / us if us and base_us else None
            if cpu_value is not None:
                cpu_ratio = f"{cpu_value:.3f}x"
            if target is not None:
                ok = value >= target
                failed |= not ok
                verdict = f"{'PASS' if ok else 'MISS'} (>= {target}x)"
                if cpu_value is not None:
                    verdict += f", by CPU {'PASS' if cpu_value >= target else 'MISS'}"
        rows.append(
            [
                name,
                f"{stats.rps:.0f}",
                f"{stats.p50_ms:.2f}",
                f"{stats.p99_ms:.2f}",
                "" if us is None else f"{us:.0f}",
                stats.errors,
                ratio,
                cpu_ratio,
                verdict,
            ]
        )
    print()
    headers = ["djira", "req/s", "p50 ms", "p99 ms", "server us/req", "errors", "ratio"]
    headers += ["by CPU", "target"]
    print_table(headers, rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
