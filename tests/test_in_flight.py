"""``MAX_REQUESTS_IN_FLIGHT``: a connection's requests past the cap get 429 at once
(djira.handler.answer), in the application's own loop and over a real server."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.conf import settings
from django.test import override_settings

from djira.asgi import get_asgi_application
from djira.consumer import Consumer
from djira.delivery.queues import PACE_TIMEOUT
from djira.server import create_server
from djira.testing import InProcessCommunicator, SocketCommunicator
from tests.flood import FLOOD, Flood, sample_during, timed_request
from tests.testapp.hooks import ToolsAPIHook

pytestmark = pytest.mark.usefixtures("db_")

CAP = 2


class Heard:
    """A lifecycle listener keeping the statuses of the replies (as the console counts)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []

    def connected(self, scope):
        pass

    def disconnected(self, sid, reason):
        pass

    def request(self, scope, reply, duration):
        self.statuses.append(reply["status"])

    def pushed(self, event, room, payload):
        pass


@pytest.fixture(scope="module")
def consumer():
    sio = create_server()
    djira = {**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio, "MAX_REQUESTS_IN_FLIGHT": CAP}
    with override_settings(DJIRA_SETTINGS=djira):
        consumer = Consumer(sio)
        consumer.register("tools", ToolsAPIHook)
        yield consumer


@pytest.fixture(scope="module")
def application(consumer):
    return get_asgi_application(consumer=consumer, discover=False)


@pytest.fixture
def heard(consumer):
    listener = Heard()
    consumer.monitor.listeners.append(listener)
    yield listener
    consumer.monitor.listeners.remove(listener)


async def test_requests_past_the_cap_get_429_at_once(application, consumer, heard):
    async with InProcessCommunicator(application) as client:
        slow = [
            asyncio.create_task(
                client.request("tools", namespace="slow", query={"seconds": 0.5}, request_id=n)
            )
            for n in range(CAP)
        ]
        await asyncio.sleep(0.1)  # both are running
        started = time.perf_counter()
        refused = await asyncio.gather(
            *(
                client.request("tools", namespace="route", request_id=f"r{n}", ack=n % 2 == 0)
                for n in range(CAP)
            )
        )
        waited = time.perf_counter() - started
        assert [reply["status"] for reply in await asyncio.gather(*slow)] == [200] * CAP
        # The slow ones are answered: the connection may send again.
        assert (await client.request("tools", namespace="route"))["status"] == 200

    assert waited < 0.3  # not after the slow ones: at once
    assert [reply["requestId"] for reply in refused] == ["r0", "r1"]
    for reply in refused:
        assert reply["status"] == 429
        assert reply["namespace"] == "route" and reply["event"] == "tools"
        assert reply["data"] == {
            "detail": f"Too many requests in flight on this connection (at most {CAP}): "
            "wait for replies before sending more."
        }
    # Counted as requests, like any reply (the console's counts come from here).
    assert sorted(heard.statuses) == [200] * (CAP + 1) + [429] * CAP
    assert consumer.in_flight == {}  # nothing kept for a connection with none in flight


async def test_past_a_caps_worth_of_429s_the_connection_waits_for_a_slot(application, heard):
    """A client that keeps sending past the cap is read no faster than it is answered: its
    next request waits for a free slot (and runs) instead of being read only to be refused,
    and waits at most ``PACE_TIMEOUT`` for one (then its 429).

    The connection's two slow requests may run one after the other (djira.sync.Lanes gives
    a connection's backlog one thread while other connections' units run, as a worker left
    busy by an earlier test's would be): the client waits long enough for both."""
    async with InProcessCommunicator(application, timeout=10.0) as client:
        slow = [
            asyncio.create_task(client.request("tools", namespace="slow", query={"seconds": 0.5}))
            for _ in range(CAP)
        ]
        await asyncio.sleep(0.1)
        refused = [await client.request("tools", namespace="route") for _ in range(CAP)]
        assert [reply["status"] for reply in refused] == [429] * CAP
        started = time.perf_counter()
        paced = await client.request("tools", namespace="route")
        waited = time.perf_counter() - started
        await asyncio.gather(*slow)
        assert paced["status"] == 200  # it waited for a slot, and ran
        assert 0.2 < waited < 0.5 + PACE_TIMEOUT

        # Every slot held for longer than the reader waits: a 429 after PACE_TIMEOUT.
        slow = [
            asyncio.create_task(client.request("tools", namespace="slow", query={"seconds": 2.5}))
            for _ in range(CAP)
        ]
        await asyncio.sleep(0.1)
        for _ in range(CAP):
            assert (await client.request("tools", namespace="route"))["status"] == 429
        started = time.perf_counter()
        late = await client.request("tools", namespace="route")
        waited = time.perf_counter() - started
        assert late["status"] == 429
        assert PACE_TIMEOUT * 0.9 < waited < 2.0
        await asyncio.gather(*slow)
        # With nothing in flight the connection starts afresh: a burst past the cap is
        # refused at once again.
        assert (await client.request("tools", namespace="route"))["status"] == 200


async def test_a_connection_held_back_is_not_closed_for_the_pong_held_behind():
    """A client paced past its cap may have its pong to the server's ping among the frames
    held back: it is alive (it sends), so the ping timeout must not close it."""
    sio = create_server(ping_interval=0.2, ping_timeout=0.3)
    djira = {**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio, "MAX_REQUESTS_IN_FLIGHT": CAP}
    with override_settings(DJIRA_SETTINGS=djira):
        consumer = Consumer(sio)
        consumer.register("tools", ToolsAPIHook)
        application = get_asgi_application(consumer=consumer, discover=False)
        async with InProcessCommunicator(application) as client:
            pongs: list[float] = []  # the client's answers to the server's pings
            send_frame = client._send_frame

            async def record(text: str) -> None:
                if text.startswith("3"):
                    pongs.append(time.perf_counter())
                await send_frame(text)

            client._send_frame = record  # type: ignore[method-assign]
            await asyncio.sleep(0.3)  # past the first ping: pings and pongs go on
            slow = {"seconds": 0.4}
            held = [
                asyncio.create_task(client.request("tools", namespace="slow", query=slow))
                for _ in range(CAP)
            ]
            await asyncio.sleep(0.05)
            for _ in range(CAP):  # a cap's worth of 429s: then the reader waits for slots
                assert (await client.request("tools", namespace="route"))["status"] == 429
            # Six more slow requests, read one slot at a time: about 1.2 s, four times
            # the ping timeout, with pongs behind them.
            held += [
                asyncio.create_task(client.request("tools", namespace="slow", query=slow))
                for _ in range(6)
            ]
            started = time.perf_counter()
            replies = await asyncio.wait_for(asyncio.gather(*held), 10)
            # Each held request runs once a slot frees, or is refused after PACE_TIMEOUT.
            assert {reply["status"] for reply in replies[:CAP]} == {200}
            assert {reply["status"] for reply in replies[CAP:]} <= {200, 429}
            assert time.perf_counter() - started > 2 * 0.3  # long past the ping timeout
            assert client.connected
            # Pinged all along, as clients expect (they close a server that stops), though
            # its pongs waited behind its requests.
            gaps = [b - a for a, b in zip(pongs, pongs[1:], strict=False) if b > started]
            assert gaps and max(gaps) < 0.2 + 0.3, pongs


async def test_another_connection_is_not_capped(application, consumer):
    async with (
        InProcessCommunicator(application) as busy,
        InProcessCommunicator(application) as other,
    ):
        slow = [
            asyncio.create_task(busy.request("tools", namespace="slow", query={"seconds": 0.3}))
            for _ in range(CAP)
        ]
        await asyncio.sleep(0.1)
        assert (await busy.request("tools", namespace="route"))["status"] == 429
        assert (await other.request("tools", namespace="route"))["status"] == 200
        await asyncio.gather(*slow)


async def test_a_malformed_request_past_the_cap_still_gets_its_429(application):
    async with InProcessCommunicator(application) as client:
        slow = [
            asyncio.create_task(client.request("tools", namespace="slow", query={"seconds": 0.3}))
            for _ in range(CAP)
        ]
        await asyncio.sleep(0.1)
        reply = await client.send("tools", {"requestId": "bad", "action": 7})
        await asyncio.gather(*slow)
    assert (reply["status"], reply["requestId"]) == (429, "bad")


async def test_an_unknown_hook_or_namespace_past_the_cap_still_gets_its_404(application):
    async with InProcessCommunicator(application) as client:
        slow = [
            asyncio.create_task(client.request("tools", namespace="slow", query={"seconds": 0.3}))
            for _ in range(CAP)
        ]
        await asyncio.sleep(0.1)
        unknown_hook = await client.request("made-up", namespace="route")
        unknown_namespace = await client.request("tools", namespace="made-up")
        await asyncio.gather(*slow)
    # Not 429: the console files 404s under one key, not under names a client chose.
    assert unknown_hook["status"] == unknown_namespace["status"] == 404


async def test_no_cap_when_the_setting_is_none(application, consumer):
    djira = {**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": consumer.sio}
    with override_settings(DJIRA_SETTINGS={**djira, "MAX_REQUESTS_IN_FLIGHT": None}):
        async with InProcessCommunicator(application) as client:
            replies = await asyncio.gather(
                *(
                    client.request("tools", namespace="slow", query={"seconds": 0.1})
                    for _ in range(CAP + 3)
                )
            )
    assert [reply["status"] for reply in replies] == [200] * (CAP + 3)


async def test_a_flood_past_the_cap_gets_one_reply_each(servers):
    # The default cap, over a real server: one process floods, every request gets exactly
    # one reply, 200 or 429, and another connection is still answered quickly.
    server = servers()
    async with SocketCommunicator(server.url, timeout=60) as client:
        for _ in range(5):
            await timed_request(client, "tools", "route")
        idle = min([await timed_request(client, "tools", "route") for _ in range(20)])
        flood = await Flood.start(server.url, "tools", "slow", {"seconds": 0.002})
        loaded = await sample_during(flood, client, "tools", "route")
        result = await flood.result()

    print(
        f"\ncap 64: {result['statuses']} in {result['seconds']} s; another client: idle "
        f"{idle * 1000:.1f} ms, during the flood max {max(loaded, default=0) * 1000:.1f} ms "
        f"over {len(loaded)} requests"
    )
    assert result["missing"] == 0 and result["duplicated"] == 0, result
    assert set(result["statuses"]) == {"200", "429"}, result
    assert sum(result["statuses"].values()) == FLOOD
