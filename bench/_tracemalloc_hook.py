"""Where a benchmark server's memory goes: tracemalloc by allocation site, on signals.

Imported by the fan-out apps (``bench/_fanout_djira.py``, ``bench/_fanout_bare.py``) when
``BENCH_TRACEMALLOC`` names a file: tracing starts at import; ``SIGUSR1`` takes the baseline
snapshot, ``SIGUSR2`` writes the 30 sites (file and line) that grew most since then to that
file, with their size and count (bench/connections.py sends both).
"""

from __future__ import annotations

import os
import signal
import tracemalloc
from typing import Any

tracemalloc.start(int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "1")))
_baseline: list[tracemalloc.Snapshot] = []


def _filtered() -> tracemalloc.Snapshot:
    return tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )


def _mark(*args: Any) -> None:
    _baseline[:] = [_filtered()]


def _write(*args: Any) -> None:
    if not _baseline:
        return
    key = "traceback" if int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "1")) > 1 else "lineno"
    stats = _filtered().compare_to(_baseline[0], key)
    path = os.environ["BENCH_TRACEMALLOC"]
    with open(path + ".tmp", "w") as out:
        total = sum(stat.size_diff for stat in stats)
        out.write(f"traced growth: {total / 1024:.0f} KiB\n")
        for stat in stats[:30]:
            where = " <- ".join(f"{f.filename}:{f.lineno}" for f in stat.traceback)
            out.write(f"{stat.size_diff / 1024:9.1f} KiB {stat.count_diff:7d} {where}\n")
    os.replace(path + ".tmp", path)  # whole or absent: the benchmark waits for it


signal.signal(signal.SIGUSR1, _mark)
signal.signal(signal.SIGUSR2, _write)
