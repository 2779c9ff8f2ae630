"""Over a real uvicorn server: a websocket client that answers no ping is closed by the
server's ping check (djira.delivery.queues.DjiraSocket reads without a timeout of its own),
with the reason ``ping timeout``, and its websocket closed then."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import start_server
from tests.observers.rawsocket import RawSocket

pytestmark = pytest.mark.usefixtures("db_")


async def test_a_client_that_answers_no_ping_is_closed_by_a_real_server():
    server = start_server("tests.ping_asgi:application")
    try:
        silent = await RawSocket.open(server.port)
        sent = silent.send
        pinged_at = 0.0  # when the server's last ping came (the pong it would get)

        async def no_pongs(text: str) -> None:
            nonlocal pinged_at
            if text == "3":
                pinged_at = time.perf_counter()
            else:
                await sent(text)

        silent.send = no_pongs  # type: ignore[method-assign]
        started = time.perf_counter()
        while await asyncio.wait_for(silent.recv(), 5) is not None:
            pass  # the server's pings, unanswered
        closed_at = time.perf_counter()
        # A ping after ping_interval, the close ping_timeout later (and the check's period).
        assert 0.9 < closed_at - started < 3.0, closed_at - started
        # The ping check closes the websocket itself: within ping_timeout (0.2 s) and a step
        # of the check (0.5 s) of the ping, not when the socket's writer, idle since it sent
        # the ping, gives up after ping_interval + ping_timeout (1.2 s: python-engineio's).
        assert pinged_at
        assert closed_at - pinged_at < 1.0, closed_at - pinged_at
        asker = await RawSocket.open(server.port)
        reply = await asker.call("ping", {"namespace": "reasons"})
        assert reply["status"] == 200 and reply["data"] == ["ping timeout"], reply
        asker.close()
    finally:
        server.stop()
