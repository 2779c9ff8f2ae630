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
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

T = TypeVar("T")

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _executor(threads: int) -> ThreadPoolExecutor:
    """The process's worker pool, rebuilt if ``WORKER_THREADS`` changed (tests)."""
    global _pool
    pool = _pool
    if pool is None or pool[0] != threads:
        with _lock:
            pool = _pool
            if pool is None or pool[0] != threads:
                if pool is not None:
                    pool[1].shutdown(wait=False)
                pool = _pool = (
                    threads,
                    ThreadPoolExecutor(threads, thread_name_prefix="djira-worker"),
                )
    return pool[1]


def unit_of_work(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn`` between two ``close_old_connections()``, as Django wraps a request."""
    close_old_connections()
    try:
        return fn(*args)
    finally:
        close_old_connections()


async def run_sync(fn: Callable[..., T], *args: Any) -> T:
    """Run sync ``fn(*args)`` on a worker thread with the caller's context; a coroutine."""
    from djira.settings import jira_settings

    threads = int(jira_settings.WORKER_THREADS)
    if threads <= 1:
        return await sync_to_async(unit_of_work, thread_sensitive=True)(fn, *args)
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    call = functools.partial(context.run, unit_of_work, fn, *args)
    return await loop.run_in_executor(_executor(threads), call)
