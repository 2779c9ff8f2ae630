"""djira.load: the process's CPU share, read at most once per interval."""

from __future__ import annotations

import time

from djira.load import BUSY, INTERVAL, ProcessLoad, process_load


class Clocks:
    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 10.0
        self.cpu_reads = 0

    def read_cpu(self) -> float:
        self.cpu_reads += 1
        return self.cpu


def test_the_share_is_cpu_time_over_wall_time_between_readings():
    clocks = Clocks()
    load = ProcessLoad(cpu=clocks.read_cpu, clock=lambda: clocks.wall)
    assert not load.busy() and load.share == 0.0  # nothing read yet
    clocks.wall += 1.0
    clocks.cpu += BUSY * 1.0 + 0.01  # just above the threshold
    assert load.busy()
    assert abs(load.share - (BUSY + 0.01)) < 1e-9
    clocks.wall += 2.0
    clocks.cpu += 0.5  # a quarter of a core over two seconds
    assert not load.busy()
    assert abs(load.share - 0.25) < 1e-9


def test_the_cpu_time_is_read_once_per_interval_at_most():
    clocks = Clocks()
    load = ProcessLoad(cpu=clocks.read_cpu, clock=lambda: clocks.wall)
    reads = clocks.cpu_reads
    for _ in range(100):
        clocks.wall += INTERVAL / 10
        load.busy()
    assert clocks.cpu_reads - reads == 10  # every tenth call


def test_the_process_load_reads_this_process():
    load = ProcessLoad()
    busy_until = time.process_time() + INTERVAL * 1.5
    while time.process_time() < busy_until:  # this thread's CPU time, not the wall's
        pass
    load.busy()
    # Idle, it would be about 0; a machine shared with other work gives less than 1.
    assert load.share > 0.2
    assert isinstance(process_load, ProcessLoad)
