"""Over a real uvicorn server: a websocket client that answers no ping is closed by the
server's ping check (djira.delivery.queues.DjiraSocket reads without a timeout of its own),
with the reason ``ping timeout``."""

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

        async def no_pongs(text: str) -> None:
            if text != "3":
                await sent(text)

        silent.send = no_pongs  # type: ignore[method-assign]
        started = time.perf_counter()
        while await asyncio.wait_for(silent.recv(), 5) is not None:
            pass  # the server's pings, unanswered
        waited = time.perf_counter() - started
        # A ping after ping_interval, the close ping_timeout later (and the check's period).
        # The socket's writer, idle since that ping, would close it only ping_interval +
        # ping_timeout later (as "transport close"): the ping check comes well first.
        assert 0.9 < waited < 3.0, waited
        asker = await RawSocket.open(server.port)
        reply = await asker.call("ping", {"namespace": "reasons"})
        assert reply["status"] == 200 and reply["data"] == ["ping timeout"], reply
        asker.close()
    finally:
        server.stop()
