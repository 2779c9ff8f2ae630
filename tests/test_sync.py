"""djira.sync: requests' sync work on worker threads, database connections recycled."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import pytest
from django.db import connection
from django.test import override_settings

from djira import sync
from djira.sync import Lanes, run_sync, worker_threads
from djira.testing import SocketCommunicator
from tests.flood import FLOOD, Flood, sample_during, timed_request

pytestmark = pytest.mark.usefixtures("db_")


async def test_a_slow_request_does_not_hold_other_clients(connect):
    slow, fast = await connect(), await connect()
    order: list[str] = []

    async def call(client, name, **query):
        await client.request("tools", namespace=name, query=query)
        order.append(name)

    slow_call = asyncio.create_task(call(slow, "slow", seconds=1.5))
    await asyncio.sleep(0.2)  # the slow body is running
    for _ in range(5):
        await call(fast, "route")
    await slow_call
    assert order == ["route"] * 5 + ["slow"]


async def test_one_client_slow_request_does_not_delay_its_own_fast_ones(connect):
    client = await connect()
    slow = asyncio.create_task(client.request("tools", namespace="slow", query={"seconds": 1.5}))
    await asyncio.sleep(0.2)
    assert (await client.request("tools", namespace="route"))["status"] == 200
    assert not slow.done()
    assert (await slow)["data"] == {"slept": True}


@pytest.mark.parametrize(
    ("engine", "threads"),
    [
        ("django.db.backends.sqlite3", 2),
        ("tests.sqlite_backend", 2),  # a backend built on SQLite's counts as SQLite
        ("django.db.backends.postgresql", 4),
        ("", 4),  # no database configured
    ],
)
def test_the_default_thread_count_follows_the_database(engine, threads):
    assert sync._default_threads(engine) == threads


@override_settings(DJIRA_SETTINGS={"WORKER_THREADS": 3})
def test_a_thread_count_set_wins_over_the_default():
    assert worker_threads() == 3


async def test_requests_run_on_the_default_thread_count():
    # This suite runs on SQLite and on PostgreSQL (tests/_postgres.py).
    assert worker_threads() == (2 if connection.vendor == "sqlite" else 4)
    await run_sync(_state)
    assert sync._workers is not None
    assert sync._workers.size == (2 if connection.vendor == "sqlite" else 4)


def _leave_transaction_open() -> int:
    connection.set_autocommit(False)
    connection.cursor().execute("SELECT 1")
    return id(connection.connection)


def _state() -> tuple[bool, bool, str]:
    return connection.get_autocommit(), connection.in_atomic_block, threading.current_thread().name


@override_settings(DJIRA_SETTINGS={"WORKER_THREADS": 1})
async def test_a_unit_left_in_a_transaction_does_not_leak_into_the_next():
    await run_sync(_leave_transaction_open)
    autocommit, in_atomic, _ = await run_sync(_state)
    assert autocommit and not in_atomic


async def test_sync_work_runs_on_worker_threads_with_the_callers_context():
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    var.set("caller")

    def read() -> tuple[str, str]:
        return var.get(), threading.current_thread().name

    value, thread = await run_sync(read)
    assert value == "caller" and thread.startswith("djira-worker")
    with override_settings(DJIRA_SETTINGS={"WORKER_THREADS": 1}):
        _, thread = await run_sync(read)
    assert not thread.startswith("djira-worker")  # asgiref's thread-sensitive thread


async def test_exceptions_reach_the_caller():
    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await run_sync(fail)


@pytest.mark.parametrize("threads", [1, 2])
async def test_connections_take_turns_on_the_threads(threads):
    gate = threading.Event()
    order: list[str] = []

    def hold() -> None:
        gate.wait(5)

    with override_settings(DJIRA_SETTINGS={"WORKER_THREADS": threads}):
        held = [asyncio.create_task(run_sync(hold, sid="x")) for _ in range(threads)]
        await asyncio.sleep(0.1)  # every thread is held: what follows queues up
        busy = [asyncio.create_task(run_sync(order.append, "a", sid="a")) for _ in range(10)]
        other = asyncio.create_task(run_sync(order.append, "b", sid="b"))
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(*held, *busy, other)
    # One first-come-first-served queue would run "b" last; in turns it runs in the first
    # round, behind at most one of "a"'s units per thread.
    assert order.index("b") <= threads, order


def test_a_lane_with_a_backlog_waits_behind_lanes_new_to_the_queue():
    lanes: Lanes[str] = Lanes(threads=8)

    def take_and_finish() -> str | None:
        taken = lanes.take()
        if taken is None:
            return None
        lanes.done(taken[1])
        return taken[0]

    for n in range(3):
        lanes.put("flood", f"flood{n}")
    assert take_and_finish() == "flood0"  # two more waiting: to the backlog round
    lanes.put("a", "a0")
    lanes.put("b", "b0")
    lanes.put("a", "a1")  # a's second: a goes to the backlog round after its first
    taken = [take_and_finish() for _ in range(6)]
    assert taken == ["a0", "b0", "flood1", "a1", "flood2", None]
    assert len(lanes) == 0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backlogs_get_one_thread_beside_other_work_and_every_thread_alone():
    clock = Clock()
    lanes: Lanes[str] = Lanes(threads=4, clock=clock)
    for n in range(8):
        lanes.put("flood", f"flood{n}")
    # The flood alone: every thread.
    assert [lanes.take() for _ in range(3)] == [(f"flood{n}", True) for n in range(3)]
    lanes.put("a", "a0")
    assert lanes.take() == ("a0", False)  # the fourth thread, for a: no backlog
    assert lanes.done(True) == 0  # flood0 done; a runs, and two threads run the flood
    assert lanes.done(True) == 0  # flood1 done; one thread runs the flood
    assert lanes.take() is None  # a runs: the flood keeps to one thread; wake-up kept
    assert lanes.done(True) == 1  # flood2 done: the kept wake-up back, for one thread
    assert lanes.take() == ("flood3", True)
    assert lanes.take() is None
    clock.now += sync.OTHERS_WINDOW  # no other connection's job since a0: no more pacing
    assert lanes.done(False) == 1  # a0 done: the flood alone again, the other wake-up
    assert lanes.take() == ("flood4", True)
    assert len(lanes) == 3


def test_beside_other_connections_backlogs_are_paced_to_a_share_of_a_thread():
    clock = Clock()
    lanes: Lanes[str] = Lanes(threads=2, clock=clock)
    for n in range(1000):
        lanes.put("flood", f"flood{n}")
    assert lanes.take() == ("flood0", True)
    lanes.done(True, cost=0.01)
    assert lanes.wake_in() is None  # nothing kept
    lanes.put("a", "a0")
    assert lanes.take() == ("a0", False)  # beside a backlog: pacing starts
    lanes.done(False)
    # A burst first: BACKLOG_BURST seconds of work, one job at a time.
    unit = 0.005
    burst = 0
    while lanes.take() is not None:
        assert lanes.take() is None  # one at a time while paced: this wake-up is kept
        lanes.done(True, cost=unit - sync.LOOP_WORK)
        assert lanes.resume() == 0  # not while the budget is spent: kept
        burst += 1
    assert burst == pytest.approx(sync.BACKLOG_BURST / unit, abs=1)
    # Then a share of a thread: the kept wake-ups come back when the budget has refilled.
    wait = lanes.wake_in()
    assert wait is not None and 0 < wait <= unit / sync.BACKLOG_SHARE + 0.002
    clock.now += wait
    assert lanes.resume() == 1
    assert lanes.take() is not None
    lanes.done(True, cost=unit - sync.LOOP_WORK)
    # Other connections keep coming: still paced. Then they stop: the flood runs on every
    # thread again once OTHERS_WINDOW has passed since the last one.
    lanes.put("b", "b0")
    assert lanes.take() == ("b0", False)
    lanes.done(False)
    assert lanes.take() is None
    wait = lanes.wake_in()
    assert wait is not None and wait <= sync.OTHERS_WINDOW + 0.002
    clock.now += sync.OTHERS_WINDOW
    assert lanes.resume() >= 1
    assert lanes.take() is not None and lanes.take() is not None  # both threads


@pytest.mark.parametrize("threads", [1, 2])
async def test_paced_units_all_run_though_none_arrives_to_wake_them(threads):
    # Units held back by pacing are started again by a timer (a worker's timed wait, or
    # the serial pump's call_later), not by another unit arriving or ending.
    def unit() -> None:
        time.sleep(0.002)

    with override_settings(DJIRA_SETTINGS={"WORKER_THREADS": threads}):
        flood = [asyncio.create_task(run_sync(unit, sid="flood")) for _ in range(1000)]
        lanes = sync._get_serial().lanes if threads == 1 else sync._get_workers(threads).lanes
        for n in range(500):  # others served beside it, until the flood waits for its budget
            await run_sync(unit, sid=f"other{n}")
            await asyncio.sleep(0.01)
            if lanes.wake_in() is not None:  # wake-ups kept until the budget refills
                break
        else:
            pytest.fail("the flood was never paced")
        # Nothing else arrives now: the flood must still end, paced then at full speed.
        await asyncio.wait_for(asyncio.gather(*flood), 30)
        assert len(lanes) == 0


def test_the_servers_own_work_is_never_a_backlog():
    lanes: Lanes[str] = Lanes(threads=2, clock=Clock(), server_lanes=frozenset({None}))
    for n in range(3):
        lanes.put(None, f"server{n}")
    lanes.put("a", "a0")
    lanes.put("a", "a1")
    taken = [lanes.take() for _ in range(2)]
    assert taken == [("server0", False), ("a0", True)]
    for job in taken:
        assert job is not None
        lanes.done(job[1])
    # The server's lane went back to the first round: before a's backlog, and not paced.
    assert lanes.take() == ("server1", False)


def test_a_connection_alone_with_a_backlog_is_not_paced():
    lanes: Lanes[str] = Lanes(threads=2, clock=Clock())
    for n in range(100):
        lanes.put("bulk", f"bulk{n}")
    for n in range(0, 100, 2):  # a first-round job of its own does not count as another's
        assert lanes.take() == (f"bulk{n}", True) and lanes.take() == (f"bulk{n + 1}", True)
        assert lanes.done(True, cost=1.0) == 0 and lanes.done(True, cost=1.0) == 0
    assert len(lanes) == 0


class FakeConnection:
    def __init__(self, usable: bool) -> None:
        self.connection = object()
        self.usable = usable
        self.checks = 0
        self.closed = False

    def is_usable(self) -> bool:
        self.checks += 1
        return self.usable

    def close(self) -> None:
        self.closed = True


def test_once_a_thread_finds_a_broken_connection_the_others_check_theirs(monkeypatch):
    from djira import sync

    breakage = sync._Breakage()
    dead, alive = FakeConnection(usable=False), FakeConnection(usable=True)
    monkeypatch.setattr(sync.connections, "all", lambda initialized_only=False: [dead, alive])
    breakage.check_if_needed()
    assert dead.checks == alive.checks == 0  # nothing found: no query spent on checks

    finder = threading.Thread(target=breakage.found)
    finder.start()
    finder.join()
    breakage.check_if_needed()
    assert (dead.checks, dead.closed) == (1, True)
    assert (alive.checks, alive.closed) == (1, False)
    breakage.check_if_needed()
    assert alive.checks == 1  # once per finding, not before every unit


# -- fairness over a real server ----------------------------------------------------------------


@pytest.mark.parametrize("victim", ["route", "async_echo"])
async def test_a_flooding_connection_delays_another_by_little(servers, victim):
    # No cap on requests in flight: the scheduler alone must keep the flood's backlog off
    # the other connection (on one first-come-first-served queue it waited seconds).
    server = servers(DJIRA_TEST_MAX_IN_FLIGHT="none")
    hook = "tools" if victim == "route" else "books"  # a sync route, or an async one
    async with SocketCommunicator(server.url, timeout=60) as client:
        for _ in range(5):  # warm up: imports, connections, caches
            await timed_request(client, hook, victim)
        idle = statistics.median([await timed_request(client, hook, victim) for _ in range(20)])

        # 2 ms a request, the GIL released as during a query: the flood outpaces the threads.
        flood = await Flood.start(server.url, "tools", "slow", {"seconds": 0.002})
        loaded = await sample_during(flood, client, hook, victim)
        result = await flood.result()

    loaded.sort()
    p90 = loaded[int(len(loaded) * 0.9)]
    print(
        f"\n{victim}: idle {idle * 1000:.1f} ms; during a flood of {FLOOD} sync requests "
        f"({result['seconds']} s to answer them all), {len(loaded)} requests: median "
        f"{statistics.median(loaded) * 1000:.1f} ms, 90th percentile {p90 * 1000:.1f} ms, "
        f"max {loaded[-1] * 1000:.1f} ms"
    )
    assert result["statuses"] == {"200": FLOOD}, result
    assert result["missing"] == 0 and result["duplicated"] == 0, result
    # The median and the 90th percentile, not the maximum: a garbage collection in the
    # server (tens of ms with 5,000 requests in flight) or a busy machine may delay any
    # one request. On one queue for all connections the waits grow with the backlog, to
    # seconds, and most of the few requests made while the flood is served are slow.
    assert statistics.median(loaded) <= idle + 0.1, (idle, loaded)
    assert p90 <= idle + 0.1, (idle, loaded)
    assert len(loaded) >= 10, (loaded, result)  # sampled while the flood was served
