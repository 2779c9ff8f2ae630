"""Running a request's sync work (ORM, permissions, serializers) off the event loop.

Two choices shape this module, both taken from Django's own request handling:

- **Database connections are recycled around each unit of work**, as Django's HTTP handler
  does on ``request_started``/``request_finished`` (and Channels' ``database_sync_to_async``):
  ``close_old_connections()`` before and after. That is what makes ``CONN_MAX_AGE`` and
  ``CONN_HEALTH_CHECKS`` mean what Django's docs say, drops a connection a database restart
  broke, and closes one a unit left in a transaction or with autocommit off, so nothing
  leaks into the next request run on the same thread.
- **Independent requests run on several threads** (``WORKER_THREADS``, each with its own
  database connection), so one slow query does not hold every other client of the process,
  as it would on asgiref's single thread-sensitive thread. ``WORKER_THREADS: 1`` goes back
  to that single thread, for projects whose sync code must all run on one thread.

Each unit's result goes back to its own request as soon as it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from djira.settings import jira_settings
from djira.trace import current_trace

T = TypeVar("T")

_Job = tuple[
    asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[[], Any]
]


class Workers:
    """``size`` daemon threads taking jobs one at a time from one queue.

    Lighter than ``loop.run_in_executor`` (no concurrent future to wrap and chain): a job is
    a queue entry, and its result reaches the loop with one ``call_soon_threadsafe``. Taking
    one job at a time means a slow job holds only its own thread.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        for number in range(size):
            threading.Thread(target=self._work, name=f"djira-worker-{number}", daemon=True).start()

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.queue.put((loop, future, contextvars.copy_context(), fn))
        return future

    def stop(self) -> None:
        for _ in range(self.size):
            self.queue.put(None)

    def _work(self) -> None:
        while (job := self.queue.get()) is not None:
            loop, future, context, fn = job
            try:
                result, ok = context.run(unit_of_work, fn), True
            except BaseException as exc:  # delivered to the request that raised it
                result, ok = exc, False
            # RuntimeError: the loop closed meanwhile, so nobody is waiting for the result.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, ok, result)


def _settle(future: asyncio.Future[Any], ok: bool, result: Any) -> None:
    if future.done():  # the request was cancelled (client gone)
        return
    if ok:
        future.set_result(result)
    else:
        future.set_exception(result)


_lock = threading.Lock()
_workers: Workers | None = None


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


def unit_of_work(fn: Callable[[], T]) -> T:
    """Call ``fn`` between two ``close_old_connections()``, as Django wraps a request."""
    close_old_connections()
    try:
        trace = current_trace.get()
        if trace is None:
            return fn()
        with trace.sql():
            return fn()
    finally:
        close_old_connections()


async def run_sync(fn: Callable[..., T], *args: Any) -> T:
    """Run sync ``fn(*args)`` on a worker thread with the caller's context; a coroutine."""
    call = (lambda: fn(*args)) if args else fn
    threads = int(jira_settings.WORKER_THREADS)
    if threads <= 1:
        return await sync_to_async(unit_of_work, thread_sensitive=True)(call)
    return await _get_workers(threads).submit(call)
