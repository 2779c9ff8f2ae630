"""What the database delivery backend's outbox costs a save, on SQLite and PostgreSQL.

    python bench/outbox.py                       # SQLite (a temporary file, WAL)
    python bench/outbox.py --postgres            # a private PostgreSQL (tests/_postgres.py)
    python bench/outbox.py --saves 2000 --rounds 5

Each round saves ``--saves`` observed rows (``tests.testapp`` ``Book``, pushed by the test
hooks' observers), one transaction each, in this process (no server: the numbering happens
here, as in a shell or a worker), three ways, interleaved so that a drifting machine hits
every mode alike:

- **off**: ``DELIVERY_BACKEND`` "memory" (no row is written; nobody receives the push);
- **outbox**: ``DELIVERY_BACKEND`` "database": the push's row inserted in the save's
  transaction, then numbered in a short transaction of its own after the commit;
- **plain**: the same save with the observers disconnected (what Django alone costs).

It prints saves a second and the latency of one save (``transaction.atomic`` + ``create``,
including the numbering after the commit) at p50 and p99, median over the rounds, and the
outbox's cost against ``off``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_round(mode: str, saves: int) -> tuple[float, float, float]:
    """Saves a second, p50 and p99 latency (ms) of ``saves`` saves in ``mode``."""
    from django.db import transaction
    from django.db.models.signals import post_delete, post_save, pre_save
    from django.test.utils import override_settings

    from tests.testapp.models import Book

    backend = {"off": "memory", "outbox": "database", "plain": "memory"}[mode]
    receivers: list = []
    if mode == "plain":
        for signal in (pre_save, post_save, post_delete):
            receivers.append((signal, signal.receivers[:]))
            signal.receivers = []
            signal.sender_receivers_cache.clear()
    from django.conf import settings

    times = []
    chosen = {**settings.DJIRA_SETTINGS, "DELIVERY_BACKEND": backend}
    try:
        with override_settings(DJIRA_SETTINGS=chosen):
            started = time.perf_counter()
            for i in range(saves):
                t0 = time.perf_counter()
                with transaction.atomic():
                    Book.objects.create(title=f"bench {mode} {i}")
                times.append(time.perf_counter() - t0)
            elapsed = time.perf_counter() - started
    finally:
        for signal, kept in receivers:
            signal.receivers = kept
            signal.sender_receivers_cache.clear()
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return saves / elapsed, statistics.median(times) * 1000, p99 * 1000


def child(saves: int, rounds: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    import tests.observers.presence_hooks  # noqa: F401 - the observed hooks
    import tests.testapp.observed  # noqa: F401
    from bench.live_admin import create_database

    create_database()  # PostgreSQL: tests/_postgres.py starts an empty server
    call_command("migrate", verbosity=0)
    results: dict[str, list[tuple[float, float, float]]] = {"plain": [], "off": [], "outbox": []}
    modes = list(results)
    for r in range(rounds):
        for mode in modes[r % 3 :] + modes[: r % 3]:  # rotating order
            results[mode].append(run_round(mode, saves))
    from django.db import connection

    print(f"database: {connection.vendor}; {saves} saves x {rounds} rounds (median of rounds)")
    print(f"{'mode':<8} {'saves/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    med = {}
    for mode, rows in results.items():
        med[mode] = tuple(statistics.median(col) for col in zip(*rows, strict=True))
        rate, p50, p99 = med[mode]
        print(f"{mode:<8} {rate:>9.0f} {p50:>8.3f} {p99:>8.3f}")
    rate_ratio = med["outbox"][0] / med["off"][0]
    extra = med["outbox"][1] - med["off"][1]
    print(f"outbox vs off: {rate_ratio:.2f}x the saves a second; +{extra:.3f} ms per save (p50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--saves", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.saves, args.rounds)
        return
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    # As a module: run as a script, bench/ would come first on the path, and its requests.py
    # would shadow the requests package python-engineio imports.
    command = [sys.executable, "-m", "bench.outbox", "--child", "--saves", str(args.saves)]
    command += ["--rounds", str(args.rounds)]
    if args.postgres:
        env["DJIRA_TEST_DATABASE"] = "postgres"
        command = [sys.executable, "-m", "tests._postgres", *command]
    else:
        env["DJIRA_TEST_DB"] = str(Path(tempfile.mkdtemp()) / "outbox-bench.sqlite3")
    subprocess.run(command, env=env, cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
