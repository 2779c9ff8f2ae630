"""``SharedRead``: callers that come together share one read that starts after all of them.

What a subscription waits for (``Follower.settled``) reads the outbox's head; many clients
subscribing at once must share that read, and none may get a read started before it
called (it could miss a push numbered just before its subscription).
"""

from __future__ import annotations

import asyncio

import pytest

from djira.delivery.follower import SharedRead


class Reads:
    """Each run returns its number; ``release`` lets the run in progress end."""

    def __init__(self) -> None:
        self.started = 0
        self.gate = asyncio.Event()

    async def read(self) -> int:
        self.started += 1
        number = self.started
        await self.gate.wait()
        self.gate.clear()
        return number

    async def release(self) -> None:
        self.gate.set()
        for _ in range(5):  # let the run end and the next one start
            await asyncio.sleep(0)


async def test_callers_of_a_moment_share_one_read_and_later_callers_the_next():
    reads = Reads()
    shared = SharedRead(reads.read)
    first = [shared() for _ in range(50)]
    await asyncio.sleep(0)
    assert reads.started == 1
    # The read is on: these callers may not use it, they share the next one.
    second = [shared() for _ in range(50)]
    await reads.release()
    assert {await task for task in first} == {1}
    assert reads.started == 2
    third = [shared() for _ in range(10)]  # while the second read is on
    await reads.release()
    assert {await task for task in second} == {2}
    await reads.release()
    assert {await task for task in third} == {3}
    assert reads.started == 3


async def test_a_failed_read_fails_its_callers_only():
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the database restarted")
        return calls

    shared = SharedRead(read)
    failed = shared()
    with pytest.raises(ConnectionError):
        await failed
    assert await shared() == 2


async def test_a_caller_that_gives_up_does_not_stop_the_read_the_others_share():
    reads = Reads()
    shared = SharedRead(reads.read)
    patient = shared()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(shared()), 0.01)
    await reads.release()
    assert await patient == 1
