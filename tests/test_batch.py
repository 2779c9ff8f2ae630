"""djira._batch: concurrent sync work shares one thread hop, and behaves like sync_to_async."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from djira._batch import run_sync

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="-")


async def test_results_and_errors_reach_their_own_callers():
    def work(n: int) -> int:
        if n % 3 == 0:
            raise ValueError(n)
        return n * 10

    results = await asyncio.gather(*(run_sync(work, n) for n in range(10)), return_exceptions=True)
    for n, result in enumerate(results):
        if n % 3 == 0:
            assert isinstance(result, ValueError) and result.args == (n,)
        else:
            assert result == n * 10


async def test_each_call_sees_its_own_context():
    async def one(tag: str) -> str:
        marker.set(tag)
        return await run_sync(marker.get)

    assert await asyncio.gather(*(one(f"t{i}") for i in range(8))) == [f"t{i}" for i in range(8)]


async def test_runs_on_the_thread_sync_to_async_uses():
    names = await asyncio.gather(*(run_sync(lambda: threading.get_ident()) for _ in range(5)))
    assert len(set(names)) == 1
    assert names[0] == await sync_to_async(threading.get_ident)()
    assert names[0] != threading.get_ident()


async def test_concurrent_calls_share_a_batch():
    started = threading.Event()
    release = threading.Event()
    order: list[int] = []

    def first() -> None:
        started.set()
        release.wait(5)

    head = asyncio.ensure_future(run_sync(first))
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
    rest = [asyncio.ensure_future(run_sync(order.append, n)) for n in range(5)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(head, *rest)
    assert order == [0, 1, 2, 3, 4]


async def test_nested_async_to_sync_does_not_deadlock():
    async def inner() -> str:
        return await run_sync(lambda: "inner")

    def outer() -> str:
        return async_to_sync(inner)()

    assert await asyncio.wait_for(run_sync(outer), 5) == "inner"


@pytest.mark.parametrize("n", [1, 64])
async def test_many_callers(n: int):
    assert await asyncio.gather(*(run_sync(int, str(i)) for i in range(n))) == list(range(n))
