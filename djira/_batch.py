"""Run the sync work of concurrent requests in one thread hop per batch.

Each ``sync_to_async`` call costs a hand-off to the worker thread and a wake-up of the event
loop on the way back (about 40 µs, plus GIL ping-pong under load). Under concurrency many
requests are waiting for the same single worker thread anyway (asgiref's thread-sensitive
executor runs one call at a time), so djira queues their sync parts and runs everything
queued in a single ``sync_to_async`` call: the same thread, the same order and each request's
own context, with one hop per batch instead of one per request.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

T = TypeVar("T")

MAX_BATCH = 32

_Item = tuple[contextvars.Context, Callable[[], Any], "asyncio.Future[Any]"]

# True in sync code run by a batch: a coroutine it runs through ``async_to_sync`` that comes
# back here must not wait for the batch it is blocking (asgiref's own hop handles that).
_in_batch: contextvars.ContextVar[bool] = contextvars.ContextVar("djira_in_batch", default=False)


def _call(fn: Callable[[], Any]) -> Any:
    _in_batch.set(True)
    return fn()


def _work(batch: list[_Item]) -> list[tuple[asyncio.Future[Any], bool, Any]]:
    results: list[tuple[asyncio.Future[Any], bool, Any]] = []
    for context, fn, future in batch:
        try:
            results.append((future, True, context.run(_call, fn)))
        except BaseException as exc:  # delivered to the request that raised it
            results.append((future, False, exc))
    return results


class _Batcher:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[_Item] = []
        self.busy = False
        self.task: asyncio.Task[None] | None = None

    def submit(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        future = self.loop.create_future()
        self.pending.append((contextvars.copy_context(), fn, future))
        if not self.busy:
            # Start at the end of this loop iteration: every request whose frame arrived in
            # the same iteration joins the batch.
            self.busy = True
            self.loop.call_soon(self._start)
        return future

    def _start(self) -> None:
        # Capped, so a reply never waits behind more than MAX_BATCH others' sync work.
        batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
        self.task = self.loop.create_task(self._run(batch))

    async def _run(self, batch: list[_Item]) -> None:
        try:
            results = await sync_to_async(_work)(batch)
        except BaseException as exc:  # the hop itself failed: fail the whole batch
            results = [(future, False, exc) for _, _, future in batch]
        for future, ok, value in results:
            if not future.done():
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        # Requests that arrived while this batch ran go next, in one hop.
        if self.pending:
            self._start()
        else:
            self.busy = False


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher] = (
    weakref.WeakKeyDictionary()
)


async def run_sync(fn: Callable[..., T], *args: Any) -> T:
    """``await sync_to_async(fn)(*args)``, sharing the thread hop with concurrent requests."""
    if _in_batch.get():
        return await sync_to_async(fn)(*args)
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = _Batcher(loop)
    if args:
        return await batcher.submit(lambda: fn(*args))
    return await batcher.submit(fn)
