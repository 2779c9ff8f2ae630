"""What a websocket connection keeps alive on the server while it is idle, and after it
closes (djira.delivery.queues.DjiraSocket: its read loop and its ping timer)."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest
from django.conf import settings
from django.test import override_settings

from djira.asgi import FrameGuard, get_asgi_application
from djira.consumer import Consumer
from djira.server import create_server
from djira.testing import InProcessCommunicator
from tests.testapp.hooks import ToolsAPIHook

pytestmark = pytest.mark.usefixtures("db_")


class Disconnects:
    """A lifecycle listener keeping each disconnect's reason."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def connected(self, scope):
        pass

    def disconnected(self, sid, reason):
        self.reasons.append(reason)

    def request(self, scope, reply, duration):
        pass

    def pushed(self, event, room, payload):
        pass


def _application(**server_options):
    sio = create_server(**server_options)
    djira = {**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio}
    with override_settings(DJIRA_SETTINGS=djira):
        consumer = Consumer(sio)
        consumer.register("tools", ToolsAPIHook)
        application = get_asgi_application(consumer=consumer, discover=False)
    return sio, consumer, application


def _socket_of(sio, client):
    return sio.eio.sockets[sio.manager.eio_sid_from_sid(client.sid, "/")]


async def test_a_closed_socket_is_freed_without_waiting_for_its_next_ping():
    """python-engineio waits for the next ping (25 s by default) in a task holding the
    socket: a socket closed meanwhile, and every object of its connection, stayed alive that
    long, through the garbage collections of a server with connections coming and going.
    (What python-engineio's ping check held: tests/test_engine.py.)"""
    sio, _, application = _application(ping_interval=25, ping_timeout=0.2)
    with override_settings(DJIRA_SETTINGS={**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio}):
        async with InProcessCommunicator(application):
            client = InProcessCommunicator(application)
            await client.connect()
            assert (await client.request("tools", namespace="route"))["status"] == 200
            socket = weakref.ref(_socket_of(sio, client))
            await client.disconnect()
            await asyncio.sleep(0.5)  # its writer ends
            gc.collect()
            assert socket() is None


async def test_an_idle_connection_has_one_task_of_its_own_its_writer():
    """Its read loop waits in the connection's own task, without a task and a timer per
    message as python-engineio's does; its next ping is a timer, not a sleeping task."""
    sio, _, application = _application()
    with override_settings(DJIRA_SETTINGS={**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio}):
        # The server's own tasks (the ping check, the delivery's) start
        # with its first connection.
        async with InProcessCommunicator(application):
            before = asyncio.all_tasks()
            async with InProcessCommunicator(application) as client:
                for _ in range(3):
                    assert (await client.request("tools", namespace="route"))["status"] == 200
                await asyncio.sleep(0.05)  # the requests' own tasks end
                new = asyncio.all_tasks() - before
                # The socket's own tasks (the server's come and go: its ping check waits
                # between steps in a new task, the delivery's listeners reconnect).
                names = [task.get_coro().__qualname__ for task in new]  # type: ignore[union-attr]
                own = [n for n in names if n.startswith(("DjiraSocket.", "AsyncSocket."))]
                assert own == ["DjiraSocket._write_websocket"], names


async def test_a_client_that_answers_no_ping_is_closed():
    """The read loop has no timeout of its own: python-engineio's ping check closes a client
    whose pong does not come within ping_timeout of a ping."""
    sio, consumer, application = _application(ping_interval=1.0, ping_timeout=0.2)
    listener = Disconnects()
    consumer.monitor.listeners.append(listener)
    with override_settings(DJIRA_SETTINGS={**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio}):
        async with InProcessCommunicator(application) as client:
            send_frame = client._send_frame

            async def no_pongs(text: str) -> None:
                if not text.startswith("3"):
                    await send_frame(text)

            client._send_frame = no_pongs  # type: ignore[method-assign]
            started = time.perf_counter()
            await asyncio.wait_for(asyncio.shield(client._reader), 5)  # ends with the connection
            waited = time.perf_counter() - started
            assert not client.connected
    # A ping after ping_interval, closed ping_timeout later (and the check's own period).
    # The socket's writer, idle since that ping, would close it only ping_interval +
    # ping_timeout later (as "transport close"): the ping check comes well first.
    assert 0.9 < waited < 3.0, waited
    assert listener.reasons == ["ping timeout"]


async def test_the_frame_guard_lets_go_of_the_servers_receive_once_served():
    """python-engineio's handshake keeps the ``receive`` it is given in a class it defines per
    request, freed only by the cyclic garbage collector: what that ``receive`` holds (the
    ASGI server's connection) must not wait for the collection with it."""

    class ServerReceive:  # stands for the ASGI server's bound method, holding its connection
        async def __call__(self) -> dict:
            return {"type": "websocket.receive", "text": "2"}

    kept = []

    async def app(scope, receive, send):
        kept.append(receive)  # as python-engineio's wsgi.input does
        assert await receive() == {"type": "websocket.receive", "text": "2"}

    server_receive = ServerReceive()
    held = weakref.ref(server_receive)
    await FrameGuard(app)({"type": "websocket", "client": None}, server_receive, None)
    del server_receive
    assert held() is None
    # Read again after the connection was served, it answers as a closed connection does.
    assert await kept[0]() == {"type": "websocket.disconnect", "code": 1000}
