"""What one connection can make a server hold is bounded (security.md, "Limits").

Each test reproduces a way a careless or hostile client grew the server, over a real uvicorn
server (tests/observers/limits_asgi.py) with clients that read only when asked
(``rawsocket``), and compares the server's memory growth (peak RSS after minus RSS before,
read by the server itself) with the same traffic from a well-behaved client, on a fresh
server each. The figures are printed (``-s``); the bounds asserted are loose on purpose:
they tell a bounded server from the unbounded one (tens of MiB more), not fine costs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import start_server
from tests.observers.rawsocket import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024  # the server reports KiB

SUBSCRIBE = {"namespace": "subscribe", "action": "SUBSCRIPTION"}
LEAVE = {"namespace": "subscribe", "action": "UNSUBSCRIPTION"}


def _start(**settings: Any):
    env = {"DJIRA_TEST_DELIVERY_BACKEND": "memory"}
    if settings:
        env["DJIRA_TEST_SETTINGS"] = json.dumps(settings)
    return start_server("tests.observers.limits_asgi:application", **env)


async def _state(control: RawSocket) -> dict[str, Any]:
    reply = await control.call("blobs", {"namespace": "state"})
    assert reply["status"] == 200, reply
    return reply["data"]


async def _push(control: RawSocket, room: str, count: int, size: int) -> None:
    data = {"room": room, "count": count, "size": size}
    reply = await control.call("blobs", {"namespace": "push", "action": "POST", "data": data})
    assert reply["status"] == 200, reply


async def _growth(
    scenario: Callable[[int, RawSocket], Awaitable[None]], **settings: Any
) -> tuple[float, dict[str, Any]]:
    """Run ``scenario(port, control)`` on a fresh server: (MiB grown at peak, state after)."""
    server = _start(**settings)
    try:
        control = await RawSocket.open(server.port)
        await _push(control, "warm-up", 5, 1000)  # first-use paths are not counted
        before = await _state(control)
        await scenario(server.port, control)
        after = await _state(control)
        control.close()
        return (after["VmHWM"] - before["VmRSS"]) / MIB, after
    finally:
        server.stop()


async def _settle(control: RawSocket, seconds: float, until: Callable[[dict], bool]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if until(await _state(control)):
            return
        await asyncio.sleep(0.2)


def _report(name: str, condition: float, clean: float) -> None:
    print(f"\n{name}: server grew {condition:.1f} MiB, {clean:.1f} MiB without the condition")


# -- a consumer that stops reading --------------------------------------------------------


async def _big_pushes(port: int, control: RawSocket, read: bool) -> None:
    sub = await RawSocket.open(port, rcvbuf=None if read else 4096)
    reply = await sub.call("blobs", {**SUBSCRIBE, "query": {"room": "big"}})
    assert reply["status"] == 200, reply
    done = asyncio.Event()

    async def drain() -> None:
        while (text := await sub.recv()) is not None:
            if '"seq":399' in text:
                done.set()
                return
        raise AssertionError("the reading subscriber was closed")

    reader = asyncio.create_task(drain()) if read else None
    await _push(control, "big", 400, 100_000)
    if reader is not None:
        await asyncio.wait_for(reader, 60)
    else:
        await _settle(control, 10, lambda s: "slow consumer" in s["disconnects"])
    sub.close()


async def test_a_socket_that_stops_reading_is_closed_not_buffered():
    # 400 pushes of 100 kB to a socket that reads nothing grew the server by 75-78 MiB.
    stalled, after = await _growth(lambda p, c: _big_pushes(p, c, read=False))
    # A burst of 40 MB is more than 1 MiB ahead of any reader: the reading run has no bound.
    unbounded = {"MAX_QUEUED_BYTES": None, "MAX_QUEUED_MESSAGES": None}
    reading, _ = await _growth(lambda p, c: _big_pushes(p, c, read=True), **unbounded)
    _report("400 x 100 kB pushes, subscriber not reading", stalled, reading)
    assert after["disconnects"].get("slow consumer") == 1  # counted, by reason
    # At most twice MAX_QUEUED_BYTES (1 MiB) is held for it; the rest is the room's history
    # (100 x 100 kB) and the pushes on their way, as for a client that reads everything:
    # no longer the 75-78 MiB of the issue. (Measured 20-41 MiB for both runs alike, with
    # the allocator's variance: the comparison with the reading run is what holds it.)
    assert stalled < 50 and stalled < reading + 12, (stalled, reading)


async def test_a_slow_socket_reads_why_it_was_closed():
    server = _start(MAX_QUEUED_MESSAGES=20)
    try:
        control = await RawSocket.open(server.port)
        sub = await RawSocket.open(server.port)
        await sub.call("blobs", {**SUBSCRIBE, "query": {"room": "slow"}})
        # sub reads nothing meanwhile. 9 MB: more than its client buffer (2 MiB) and the
        # kernel take (while they do, pushes go straight to the transport).
        await _push(control, "slow", 300, 30_000)
        await _settle(control, 10, lambda s: "slow consumer" in s["disconnects"])
        frames = []
        while (text := await asyncio.wait_for(sub.recv(), 10)) is not None:
            frames.append(text)
        assert sub.closed  # the transport closed after the last event
        last = json.loads(frames[-1][2:])
        assert last[0] == "djira:disconnect"
        assert last[1]["status"] == 503 and last[1]["data"]["reason"] == "slow consumer"
        assert last[1]["data"]["reconnect"] is True
        pushes = [f for f in frames if f.startswith('42["blobs"')]
        assert len(pushes) < 300  # what waited was dropped, not sent
        seqs = [json.loads(f[2:])[1]["data"]["seq"] for f in pushes]
        assert seqs == sorted(seqs)  # in order, whatever was kept
        control.close()
    finally:
        server.stop()


async def test_a_socket_that_reads_none_of_its_replies_is_not_read_either():
    """Its requests wait in TCP once half its queue's bound waits for it, instead of being
    answered into a queue that only grows until the socket is closed as a slow consumer;
    once it reads again, every request is answered."""
    server = _start(MAX_QUEUED_MESSAGES=100, MAX_QUEUED_BYTES=None)
    try:
        control = await RawSocket.open(server.port)
        sub = await RawSocket.open(server.port)  # a 4 kB receive buffer, read by nobody yet
        # 15 MB in all: more than the kernel and the transport take (while they do, a reply
        # leaves the queue at once).
        request = {"namespace": "big", "query": {"size": 50_000}}

        async def send_all() -> list[int]:
            return [await sub.send_only("blobs", request) for _ in range(300)]

        sending = asyncio.create_task(send_all())
        await asyncio.sleep(3)
        first = await _state(control)
        await asyncio.sleep(3)
        later = await _state(control)
        # Past what the kernel and the transport took, half the bound (50) waits in its
        # queue, then one more a second: not the 100 that would have closed it.
        grew = later["big answered"] - first["big answered"]
        print(f"\nanswered, client not reading: {first['big answered']}, then {grew} in 3 s")
        assert grew <= 6, (first, later)
        assert "slow consumer" not in later["disconnects"], later
        ids = await asyncio.wait_for(sending, 30)
        replies = await asyncio.wait_for(sub.acks(ids), 60)
        # Each its one reply: run, or, read in a burst once the client reads again, past
        # MAX_REQUESTS_IN_FLIGHT, refused.
        statuses = [reply["status"] for reply in replies]
        assert len(statuses) == 300 and set(statuses) <= {200, 429}
        assert statuses.count(200) >= first["big answered"]
        sub.close()
        control.close()
    finally:
        server.stop()


# -- catch-up as an amplifier -------------------------------------------------------------


async def _catch_ups(port: int, control: RawSocket, read: bool) -> None:
    await _push(control, "old", 100, 45_000)  # the room's history: 100 x 45 kB
    first = await RawSocket.open(port)
    reply = await first.call("blobs", {**SUBSCRIBE, "query": {"room": "old"}})
    epoch = reply["positions"]["old"]["epoch"]
    first.close()
    since = {"old": {"epoch": epoch, "offset": 0}}
    sub = await RawSocket.open(port, rcvbuf=None if read else 4096)
    request = {**SUBSCRIBE, "query": {"room": "old"}, "since": since}
    ids = [await sub.send_only("blobs", request) for _ in range(30)]
    if read:
        replies = await asyncio.wait_for(sub.acks(ids), 60)
        assert all(r["status"] == 200 and r["recovered"] for r in replies)
    else:
        await asyncio.sleep(3)  # what the server does with 30 catch-ups it cannot send
    sub.close()


async def test_catch_ups_to_a_socket_that_reads_nothing_are_paced():
    # 30 requests for an old ``since`` replayed 4.5 MB each into a non-reading socket.
    stalled, _ = await _growth(lambda p, c: _catch_ups(p, c, read=False))
    reading, _ = await _growth(lambda p, c: _catch_ups(p, c, read=True))
    _report("30 catch-ups of 4.5 MB, socket not reading", stalled, reading)
    assert stalled < reading + 12, (stalled, reading)


# -- subscription parameters --------------------------------------------------------------


async def _requests(port: int, request: dict[str, Any]) -> list[int]:
    sub = await RawSocket.open(port)
    statuses = []
    for i in range(200):
        data = {"i": i, "filler": "y" * 500_000}
        statuses.append((await sub.call("blobs", {**request, "data": data}))["status"])
    sub.close()
    return statuses


async def test_subscriptions_are_capped_and_keyed_by_a_digest():
    # 200 subscriptions carrying 500 kB of ``data`` each added ~100 MiB. The same 200
    # requests to a route that subscribes nothing are the comparison: receiving 100 MB of
    # requests has a cost of its own (see the figures), subscribing must add nothing to it.
    statuses: list[int] = []

    async def subscribe(port: int, control: RawSocket) -> None:
        statuses.extend(await _requests(port, SUBSCRIBE))

    async def plain(port: int, control: RawSocket) -> None:
        assert set(await _requests(port, {"namespace": "echo_size"})) == {200}

    settings = {"MAX_PAYLOAD_SIZE": 1_100_000}
    heavy, _ = await _growth(subscribe, **settings)
    light, _ = await _growth(plain, **settings)
    _report("200 subscriptions with 500 kB of data", heavy, light)
    assert statuses[:100] == [200] * 100 and statuses[100:] == [429] * 100  # MAX_SUBSCRIPTIONS
    assert heavy < light + 12, (heavy, light)


# -- rooms a socket left ------------------------------------------------------------------


async def _rooms(port: int, control: RawSocket, distinct: bool) -> None:
    sub = await RawSocket.open(port)
    for start in range(0, 15_000, 50):
        names = [f"room-{i}" if distinct else "room" for i in range(start, start + 50)]
        joins = await sub.calls("blobs", [{**SUBSCRIBE, "query": {"room": n}} for n in names])
        leaves = await sub.calls("blobs", [{**LEAVE, "query": {"room": n}} for n in names])
        assert {r["status"] for r in joins} == {200} and {r["status"] for r in leaves} == {204}
    sub.close()


async def test_rooms_a_socket_left_cost_nothing():
    # Joining and leaving 15,000 client-named rooms left 15-18 MiB behind.
    states = []

    async def distinct(port: int, control: RawSocket) -> None:
        await _rooms(port, control, distinct=True)
        states.append(await _state(control))

    many, _ = await _growth(distinct)
    one, _ = await _growth(lambda p, c: _rooms(p, c, distinct=False))
    _report("join and leave 15,000 client-named rooms", many, one)
    assert states[0]["streams"] == 1  # the warm-up's room: subscribing stored no stream
    assert many < one + 5, (many, one)
