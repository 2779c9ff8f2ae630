"""Running a request's sync work (ORM, permissions, serializers) off the event loop.

Three choices shape this module, the first two taken from Django's own request handling:

- **Database connections are recycled around each unit of work**, as Django's HTTP handler
  does on ``request_started``/``request_finished`` (and Channels' ``database_sync_to_async``):
  ``close_old_connections()`` before and after. That is what makes ``CONN_MAX_AGE`` and
  ``CONN_HEALTH_CHECKS`` mean what Django's docs say, drops a connection a database restart
  broke, and closes one a unit left in a transaction or with autocommit off, so nothing
  leaks into the next request run on the same thread. Beyond Django: when one thread finds
  its connection broken, the others check theirs before their next unit (``_Breakage``),
  so a database restart costs one failed reply per process, not one per thread.
- **Independent requests run on several threads** (``WORKER_THREADS``, each with its own
  database connection), so one slow query does not hold every other client of the process,
  as it would on asgiref's single thread-sensitive thread. ``WORKER_THREADS: 1`` goes back
  to that single thread, for projects whose sync code must all run on one thread. By
  default the count follows the database (``worker_threads``).
- **Connections take turns** (``Lanes``): each connection's units wait in a queue of its
  own, and the threads serve the queues in turn, connections with nothing else queued
  first. A socket with thousands of units queued delays another socket's unit by the
  units already running (one per thread at most), not by its backlog, as one
  first-come-first-served queue would; sockets with backlogs share the threads the others
  leave free, and one thread only while others' units run (every busy thread slows the
  event loop through the GIL). While other connections' units keep arriving, backlogs also
  draw on a budget of a few percent of one thread's time (``BACKLOG_SHARE``): a flood is
  valid work, and run in every gap it would keep the process above its core, so that
  everyone's frames wait on the event loop. The connection is the caller's
  ``current_sid`` (set by the request path, djira.handler); work of no connection
  (start-up, the console) has a lane of its own.

Each unit's result goes back to its own request as soon as it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable
from importlib import import_module
from typing import Any, Generic, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from django.db.utils import InterfaceError, OperationalError

from djira.settings import jira_settings
from djira.trace import current_trace

T = TypeVar("T")
J = TypeVar("J")

# The Socket.IO connection whose request is running: its sync work goes in its lane.
current_sid: contextvars.ContextVar[str | None] = contextvars.ContextVar("djira_sid", default=None)

#: Called with the seconds each unit waited in its lane before a thread took it, while
#: ``METRICS`` is on (djira.telemetry.metrics sets it); ``None`` costs one test per unit.
wait_observer: Callable[[float], None] | None = None


def _timed(fn: Callable[[], T], observe: Callable[[float], None]) -> Callable[[], T]:
    queued = time.perf_counter()

    def timed() -> T:
        observe(time.perf_counter() - queued)
        return fn()

    return timed


#: While other connections' units arrive, backlogs together get about this share of one
#: thread's time (the budget below refills at this rate)...
BACKLOG_SHARE = 0.05
#: ...after a burst of this many seconds of work, so that a client sending a few requests at
#: once (a page loading) is not paced at all.
BACKLOG_BURST = 0.1
#: What the event loop spends on a request around its unit (reading the frame, building and
#: writing the reply), which the unit's thread clock does not see: about half a millisecond
#: for a retrieve on this project's machines (bench/requests.py).
LOOP_WORK = 0.0005
#: "Other connections' units keep arriving": one arrived within this many seconds.
OTHERS_WINDOW = 0.5
#: The lanes of the server's own work, not a connection's: ``None`` (no request: start-up,
#: the console) and ``""`` (what a request starts for the server, e.g. presence writes).
SERVER_LANES: frozenset[Hashable] = frozenset({None, ""})

_Job = tuple[
    asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[[], Any]
]


class Lanes(Generic[J]):
    """Jobs queued per lane (a connection), taken one lane at a time in turn.

    Two rounds: ``take`` serves the lanes of the first round (each with a job that came
    while the lane had nothing queued) before those of the backlog round (lanes served
    once with more still waiting). A lane gives one job per turn: after it, a lane with
    more goes to the end of the backlog round. So a connection sending one request at a
    time waits for a free thread, never behind another connection's backlog, and lanes
    with backlogs share what the others leave, one job per round each.

    Backlogs get one of the ``threads`` while first-round work runs or waits, and all of
    them only when nothing else does. Not only to leave threads free: every thread running
    Python code competes for the GIL with the event loop, which reads, answers and pushes
    for every connection, so four threads busy with one client's backlog would slow
    everyone's replies although none of them waits for a thread. A thread that takes a
    wake-up for a backlog job it may not run yet leaves it (``take`` returns ``None`` and
    counts it); ``done`` hands such wake-ups back once backlogs may use more threads.

    Paced: while other connections' jobs keep coming beside a backlog (a first-round job
    taken within ``OTHERS_WINDOW`` while a backlog waited or ran), backlog
    jobs run one at a time and draw what they cost (their thread's CPU time plus
    ``LOOP_WORK``) from a budget that refills at ``BACKLOG_SHARE`` of a second per second,
    up to ``BACKLOG_BURST``. A thread limit alone does not bound a flood: its jobs are valid
    work that would run in every gap, and the event loop, which every connection shares,
    does its part of each. When the budget is spent, wake-ups are kept until it refills;
    ``wake_in`` says when, and ``resume`` hands them back (no job waits for another to end).
    Alone, a backlog is not paced: pacing only makes room for others.

    The ``server_lanes`` (the server's own work: presence and process records) never
    form a backlog: a lane of them with more jobs goes back to the first round, so that a
    burst of it is neither held to one thread nor paced as a client's flood would be.

    Thread-safe; the lock is held for a few dict and deque steps.
    """

    def __init__(
        self,
        threads: int = 1,
        clock: Callable[[], float] = time.monotonic,
        server_lanes: frozenset[Hashable] = frozenset(),
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._server_lanes = server_lanes
        self._threads = threads
        self._queues: dict[Hashable, deque[J]] = {}
        self._round: deque[Hashable] = deque()  # lanes new to the queue, in serving order
        self._backlog: deque[Hashable] = deque()  # lanes served with more waiting
        self._running = 0  # jobs taken and not done, of either round
        self._running_backlog = 0
        self._deferred = 0  # wake-ups left for backlog jobs that no thread could take yet
        self._arrived = -OTHERS_WINDOW  # when a first-round job was last taken beside a backlog
        self._budget = BACKLOG_BURST  # seconds of backlog work allowed now, while paced
        self._refilled = clock()  # when ``_budget`` was last brought up to date

    def put(self, lane: Hashable, job: J) -> None:
        with self._lock:
            jobs = self._queues.get(lane)
            if jobs is None:
                jobs = self._queues[lane] = deque()
                self._round.append(lane)
            jobs.append(job)

    def take(self) -> tuple[J, bool] | None:
        """The next job in turn and whether its lane has a backlog (more jobs waiting, or
        it comes from the backlog round); ``None`` when no lane has a job this thread may
        run (the wake-up is kept for ``done``)."""
        with self._lock:
            if self._round:
                lanes, backlog = self._round, False
                if self._backlog or self._running_backlog:  # another connection's turn
                    self._arrived = self._clock()
            elif self._backlog and self._backlog_room(self._clock()) > 0:
                lanes, backlog = self._backlog, True
            else:
                if self._backlog:
                    self._deferred += 1
                return None
            lane = lanes.popleft()
            jobs = self._queues[lane]
            job = jobs.popleft()
            if jobs and lane in self._server_lanes:
                self._round.append(lane)  # the server's own work: never a backlog
            elif jobs:
                self._backlog.append(lane)
                backlog = True  # the first of a backlog: the connection has more waiting
            else:
                del self._queues[lane]  # an idle connection costs nothing here
            self._running += 1
            self._running_backlog += backlog
            return job, backlog

    def done(self, backlog: bool, cost: float = 0.0) -> int:
        """A job ``take`` gave has finished, having used ``cost`` seconds of its thread's
        time (only a backlog job's is counted): how many kept wake-ups to hand back."""
        with self._lock:
            self._running -= 1
            self._running_backlog -= backlog
            now = self._clock()
            if backlog and self._paced(now):
                self._refill(now)
                self._budget -= cost + LOOP_WORK
            return self._hand_back(now)

    def resume(self) -> int:
        """How many kept wake-ups to hand back now that time has passed (``wake_in``)."""
        with self._lock:
            return self._hand_back(self._clock())

    def wake_in(self) -> float | None:
        """Seconds until kept wake-ups may be handed back by ``resume``; ``None`` when none
        are kept or a running job's ``done`` will hand them back."""
        if not self._deferred:  # read without the lock: a stale answer costs one more wait
            return None
        with self._lock:
            now = self._clock()
            if not self._deferred:
                return None
            if self._backlog_room(now) > 0:
                return 0.0
            if self._running_backlog or not self._paced(now):
                return None  # held for a thread, not for the budget: ``done`` hands them back
            ends = self._arrived + OTHERS_WINDOW - now  # others gone quiet: no more pacing
            return max(0.0, min(-self._budget / BACKLOG_SHARE, ends)) + 0.001

    def _hand_back(self, now: float) -> int:
        woken = min(self._deferred, self._backlog_room(now))
        self._deferred -= woken
        return woken

    def _paced(self, now: float) -> bool:
        return now - self._arrived < OTHERS_WINDOW

    def _refill(self, now: float) -> None:
        self._budget = min(BACKLOG_BURST, self._budget + (now - self._refilled) * BACKLOG_SHARE)
        self._refilled = now

    def _backlog_room(self, now: float) -> int:
        if self._paced(now):  # others keep arriving: one at a time, within the budget
            self._refill(now)
            return 1 if self._budget > 0 and not self._running_backlog else 0
        if self._running > self._running_backlog or self._round:  # others' work first
            return max(0, 1 - self._running_backlog)
        return self._threads - self._running

    def __len__(self) -> int:
        with self._lock:
            return sum(len(jobs) for jobs in self._queues.values())


class Workers:
    """``size`` daemon threads taking jobs one at a time from per-connection lanes.

    Lighter than ``loop.run_in_executor`` (no concurrent future to wrap and chain): a job is
    a lane entry plus a wake-up token, and its result reaches the loop with one
    ``call_soon_threadsafe``. Taking one job at a time means a slow job holds only its own
    thread; a thread picks its next job itself, without waiting for the loop.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.lanes: Lanes[_Job] = Lanes(size, server_lanes=SERVER_LANES)
        # One ``True`` per job put (so a thread that gets one always finds a job), ``False``
        # to stop a thread. Blocking on a SimpleQueue is cheaper than on a Condition.
        self._wakeups: queue.SimpleQueue[bool] = queue.SimpleQueue()
        for number in range(size):
            threading.Thread(target=self._work, name=f"djira-worker-{number}", daemon=True).start()

    def submit(self, lane: Hashable, fn: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if wait_observer is not None:
            fn = _timed(fn, wait_observer)
        self.lanes.put(lane, (loop, future, contextvars.copy_context(), fn))
        self._wakeups.put(True)
        return future

    def stop(self) -> None:
        for _ in range(self.size):
            self._wakeups.put(False)

    def _work(self) -> None:
        lanes, wakeups = self.lanes, self._wakeups
        while True:
            try:
                # A thread that may have to hand paced wake-ups back is their timer.
                if not wakeups.get(timeout=lanes.wake_in()):
                    return
            except queue.Empty:
                for _ in range(lanes.resume()):
                    wakeups.put(True)
                continue
            taken = lanes.take()
            if taken is None:  # a backlog's job, and backlogs have their threads: kept
                continue
            (loop, future, context, fn), backlog = taken
            started = time.thread_time() if backlog else 0.0
            try:
                result, ok = context.run(unit_of_work, fn), True
            except BaseException as exc:  # delivered to the request that raised it
                result, ok = exc, False
            # RuntimeError: the loop closed meanwhile, so nobody is waiting for the result.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, ok, result)
            cost = time.thread_time() - started if backlog else 0.0
            for _ in range(lanes.done(backlog, cost)):
                wakeups.put(True)


def _settle(future: asyncio.Future[Any], ok: bool, result: Any) -> None:
    if future.done():  # the request was cancelled (client gone)
        return
    if ok:
        future.set_result(result)
    else:
        future.set_exception(result)


class SerialWorker:
    """``WORKER_THREADS: 1``: one unit at a time on asgiref's thread-sensitive thread.

    That thread is shared with the rest of the process (Django's async views, the async
    ORM) and fed by asgiref's own first-come-first-served queue, so djira gives it one unit
    at a time, taken from the lanes in turn by a task on the loop: fair in the same way as
    ``Workers``, at the cost of one loop iteration between two units.
    """

    size = 1

    def __init__(self) -> None:
        self.lanes: Lanes[_Job] = Lanes(server_lanes=SERVER_LANES)
        self._pump: asyncio.Task[None] | None = None
        self._run = sync_to_async(_run_in_context, thread_sensitive=True)

    def submit(self, lane: Hashable, fn: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if wait_observer is not None:
            fn = _timed(fn, wait_observer)
        self.lanes.put(lane, (loop, future, contextvars.copy_context(), fn))
        self._start(loop)
        return future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pump is None or self._pump.done():
            # An empty context: the pump outlives the request that started it, and must not
            # carry that request's context (or asgiref's per-request executor) to others.
            self._pump = loop.create_task(self._serve(), context=contextvars.Context())

    async def _serve(self) -> None:
        # One job at a time: only pacing holds a backlog's job back from this pump, and then
        # a timer starts it again once the budget allows (``Lanes.wake_in``).
        while (taken := self.lanes.take()) is not None:
            (_, future, context, fn), backlog = taken
            started = time.perf_counter()
            try:
                if future.done():  # cancelled while it waited: do not run it
                    continue
                try:
                    result = await self._run(context, fn)
                except Exception as exc:
                    _settle(future, False, exc)
                else:
                    _settle(future, True, result)
            finally:
                # Wall time: the unit ran on asgiref's thread, whose clock this is not.
                self.lanes.done(backlog, time.perf_counter() - started if backlog else 0.0)
        delay = self.lanes.wake_in()
        if delay is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(delay, self._start, loop)


def _run_in_context(context: contextvars.Context, fn: Callable[[], T]) -> T:
    return context.run(unit_of_work, fn)


_lock = threading.Lock()
_workers: Workers | None = None
# One per event loop: a pump is a task of one loop (tests run several loops in turn).
_serial: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SerialWorker] = (
    weakref.WeakKeyDictionary()
)


def _get_workers(size: int) -> Workers:
    """The process's workers, rebuilt if ``WORKER_THREADS`` changed (tests)."""
    global _workers
    workers = _workers
    if workers is None or workers.size != size:
        with _lock:
            workers = _workers
            if workers is None or workers.size != size:
                if workers is not None:
                    workers.stop()
                workers = _workers = Workers(size)
    return workers


def _get_serial() -> SerialWorker:
    loop = asyncio.get_running_loop()
    serial = _serial.get(loop)
    if serial is None:
        serial = _serial[loop] = SerialWorker()
    return serial


# -- database connections -------------------------------------------------------------------


class _Breakage:
    """A process-wide count of broken database connections found, and what each thread saw.

    Without health checks a thread finds its connection broken (a database restart) only
    by failing a query with it, so each of ``WORKER_THREADS`` threads would fail one reply.
    Once one thread has failed, the count moves on; every other thread, before its next
    unit, checks the connections it holds (one ``SELECT 1`` each, only then) and closes
    the dead ones, so the unit reconnects instead of failing.
    """

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._seen = threading.local()

    def found(self) -> None:
        """This thread found a broken connection: the others should check theirs."""
        with self._lock:
            self.count += 1
            self._seen.count = self.count

    def check_if_needed(self) -> None:
        """If another thread found a broken connection since, close this thread's dead ones."""
        count = self.count
        if getattr(self._seen, "count", 0) == count:
            return
        self._seen.count = count
        for conn in connections.all(initialized_only=True):
            if conn.connection is not None and not conn.is_usable():
                conn.close()


_breakage = _Breakage()


def _broken_connections() -> bool:
    """Close this thread's connections that an error left unusable; whether it had any."""
    broken = False
    for conn in connections.all(initialized_only=True):
        if not conn.errors_occurred:
            continue
        if conn.connection is None:  # connecting failed: the database is down or restarting
            broken = True
        elif not conn.is_usable():
            conn.close()
            broken = True
    return broken


def unit_of_work(fn: Callable[[], T]) -> T:
    """Call ``fn`` between two ``close_old_connections()``, as Django wraps a request."""
    _breakage.check_if_needed()
    close_old_connections()
    try:
        trace = current_trace.get()
        if trace is None:
            return fn()
        with trace.sql():
            return fn()
    except (InterfaceError, OperationalError):
        # Only a connection error tells the other threads: a failed query on a healthy
        # connection (a lock timeout) says nothing about theirs.
        if _broken_connections():
            _breakage.found()
        raise
    finally:
        close_old_connections()


def worker_threads() -> int:
    """``WORKER_THREADS``, or by default 2 on SQLite and 4 on any other database.

    Why the database decides: a thread waiting on a networked database (PostgreSQL, MySQL)
    holds no GIL, so four threads overlap four queries' round trips (bench/latency.py on
    PostgreSQL: about 25% more requests a second than two). SQLite works in-process, so its
    threads beyond two add no throughput, and each busy one takes the GIL from the event
    loop that answers every connection (bench/soak.py: two threads halve the p99 of four).
    """
    threads = jira_settings.WORKER_THREADS
    if threads is not None:
        return int(threads)
    return _default_threads(settings.DATABASES.get("default", {}).get("ENGINE", ""))


@functools.cache
def _default_threads(engine: str) -> int:
    # The backend class's vendor, not the engine's name: SpatiaLite and other backends
    # built on SQLite's count as SQLite.
    vendor = import_module(f"{engine}.base").DatabaseWrapper.vendor if engine else ""
    return 2 if vendor == "sqlite" else 4


async def run_sync(fn: Callable[..., T], *args: Any, sid: str | None = None) -> T:
    """Run sync ``fn(*args)`` on a worker thread with the caller's context; a coroutine.

    :param sid: the connection the work is for; by default the request's (``current_sid``).
        Its units wait in that connection's lane, served in turn with the others'.
    """
    call = (lambda: fn(*args)) if args else fn
    lane = sid if sid is not None else current_sid.get()
    threads = worker_threads()
    if threads <= 1:
        return await _get_serial().submit(lane, call)
    return await _get_workers(threads).submit(lane, call)
