"""The server glue: python-socketio internals djira relies on, isolation, settings, discovery."""

from __future__ import annotations

import inspect

import pytest
import socketio
from django.test import override_settings

from djira.consumer import Consumer, discover_hooks
from djira.server import DjiraServer, create_server
from djira.settings import jira_settings
from djira.testing import LiveServer, SocketCommunicator
from tests.conftest import ROOT


def test_pinned_private_method_signature():
    # DjiraServer overrides these private methods; a python-socketio release that changes
    # them must fail here, not silently lose acks or replies.
    params = list(inspect.signature(socketio.AsyncServer._handle_event_internal).parameters)
    assert params == ["self", "server", "sid", "eio_sid", "data", "namespace", "id"]
    for name in ("_handle_eio_message", "_handle_eio_connect"):
        assert list(inspect.signature(getattr(socketio.AsyncServer, name)).parameters)[:2] == [
            "self",
            "eio_sid",
        ]


def test_engineio_internals_the_push_path_relies_on():
    # djira.delivery.queues and local.fan_out use python-engineio's per-socket queue, which
    # has no public API: these fail if a release changes what they rely on.
    import engineio
    from engineio import async_socket, packet

    connect = inspect.getsource(engineio.AsyncServer._handle_connect)
    # The socket is registered, then the connect handler runs (where the queue is swapped).
    assert connect.index("self.sockets[sid] = s") < connect.index("_trigger_event('connect'")
    assert "self.queue = self.server.create_queue()" in inspect.getsource(
        __import__("engineio.base_socket", fromlist=["x"]).BaseSocket.__init__
    )
    poll = inspect.getsource(async_socket.AsyncSocket.poll)
    assert "self.queue.get()" in poll and "self.queue.get_nowait()" in poll
    params = list(inspect.signature(async_socket.AsyncSocket.close).parameters)
    assert params == ["self", "wait", "abort", "reason"]
    pkt = packet.Packet(packet.MESSAGE, "2[]")
    assert pkt.encode() == "42[]" and pkt.encode_cache == "42[]"  # encoded once, shared


def test_socketio_rooms_map_sids_to_engineio_sids():
    # local.fan_out reads ``manager.rooms[namespace][room]`` as {sid: eio_sid}.
    manager = socketio.AsyncManager()
    manager.set_server(socketio.AsyncServer())
    manager.initialize()
    sid = manager.basic_enter_room("s1", "/", None, eio_sid="e1") or "s1"
    manager.basic_enter_room(sid, "/", "room", eio_sid="e1")
    assert dict(manager.rooms["/"]["room"].items()) == {"s1": "e1"}
    assert manager.eio_sid_from_sid("s1", "/") == "e1"


async def test_socket_queue_bounds_messages_and_bytes():
    from engineio import packet

    from djira.delivery.queues import SocketQueue

    overflowed = []
    queue = SocketQueue(3, 10, overflowed.append)
    for text in ("2a", "2b", "2c"):
        queue.put_nowait(packet.Packet(packet.MESSAGE, text))
    assert not queue.has_room()  # more than half full: paced senders wait
    queue.put_nowait(packet.Packet(packet.MESSAGE, "2d"))  # the fourth: past the bound
    assert overflowed == [queue] and queue.qsize() == 3
    queue.put_nowait(packet.Packet(packet.PING))  # control packets always pass
    queue.put_nowait(None)
    assert queue.drop_messages() == 3 and queue.qsize() == 2 and queue.bytes == 0


def test_settings_defaults_and_override():
    assert jira_settings.PAGE_SIZE == 16
    with override_settings(
        DJIRA_SETTINGS={"PAGE_SIZE": 3, "PERMISSION_CLASSES": ["djira.permissions.IsAuthenticated"]}
    ):
        from djira.permissions import IsAuthenticated

        assert jira_settings.PAGE_SIZE == 3
        assert [IsAuthenticated] == jira_settings.PERMISSION_CLASSES  # user lists replace defaults
    assert jira_settings.PAGE_SIZE == 16


def test_unknown_setting_is_an_error():
    with pytest.raises(AttributeError):
        jira_settings.NOT_A_SETTING  # noqa: B018


def test_create_server_reads_limits():
    with override_settings(
        DJIRA_SETTINGS={"MAX_PAYLOAD_SIZE": 1234, "CORS_ALLOWED_ORIGINS": ["https://a.example"]}
    ):
        sio = create_server()
    assert isinstance(sio, DjiraServer)
    assert sio.eio.max_http_buffer_size == 1234
    assert sio.eio.cors_allowed_origins == ["https://a.example"]


def test_consumer_refuses_reserved_names():
    consumer = Consumer(create_server())
    from djira.hooks import APIHook

    for name in ("connect", "disconnect", "*", ""):
        with pytest.raises(AssertionError):
            consumer.register(name, APIHook)


def test_consumer_needs_a_djira_server():
    with pytest.raises(AssertionError, match="DjiraServer"):
        Consumer(socketio.AsyncServer())  # type: ignore[arg-type]


def test_discover_hooks_returns_declared_events():
    from djira.hooks import APIHook

    class Declared(APIHook):
        event = "declared-for-test"

    assert discover_hooks()["declared-for-test"] is Declared


@pytest.fixture(scope="module")
def two_servers(django_db_setup):
    server = LiveServer(
        "tests.asgi_two:application",
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": ROOT},
        cwd=ROOT,
    ).start()
    yield server
    server.stop()


async def _who(url: str, path: str) -> tuple[SocketCommunicator, dict]:
    client = SocketCommunicator(url)
    client.client = socketio.AsyncClient(reconnection=False)
    client.client.on("*", client._on_event)
    await client.client.connect(url, socketio_path=path, transports=["websocket"])
    return client, await client.request("who", namespace="who")


async def test_two_consumers_in_one_process_do_not_interfere(two_servers):
    a1, first = await _who(two_servers.url, "first/socket.io")
    a2, _ = await _who(two_servers.url, "first/socket.io")
    b1, second = await _who(two_servers.url, "second/socket.io")
    try:
        assert first["data"] == {"server": "first", "connections": 1}
        assert second["data"] == {"server": "second", "connections": 1}
        assert (await a2.request("who", namespace="who"))["data"]["connections"] == 2
        assert await b1.receive_nothing(0.2)
    finally:
        for client in (a1, a2, b1):
            await client.disconnect()
