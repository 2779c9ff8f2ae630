"""Malformed input and failures: clear envelopes, no tracebacks, no crashes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import pytest

from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("a string", None),
        ([1, 2], None),
        (42, None),
        ({"namespace": 3}, "namespace"),
        ({"namespace": ""}, "namespace"),
        ({"action": "FETCH"}, "action"),
        ({"action": None}, "action"),
        ({"requestId": {"x": 1}}, "requestId"),
        ({"requestId": True}, "requestId"),
        ({"pk": [1]}, "pk"),
        ({"query": "page=2"}, "query"),
        ({"query": {"a": {"nested": 1}}}, "query"),
        ({"headers": []}, "headers"),
    ],
)
async def test_malformed_payload_is_400_naming_the_field(connect, payload, field):
    client = await connect()
    reply = await client.send("books", payload)
    assert reply["status"] == 400
    if field:
        assert f"'{field}'" in reply["data"]["detail"]
    else:
        assert reply["data"]["detail"] == "A request must be a JSON object."


async def test_missing_payload_defaults_to_list(connect):
    client = await connect()
    reply = await client.send("books", None)
    assert reply["status"] == 200 and "results" in reply["data"]


async def test_lowercase_action_is_accepted(connect):
    client = await connect()
    assert (await client.request("books", namespace="count", action="get"))["status"] == 200


async def test_exception_in_sync_action_is_opaque_500(connect):
    client = await connect()
    reply = await client.request("books", namespace="boom")
    assert reply["status"] == 500
    assert reply["data"] == {"detail": "A server error occurred."}
    assert "secret" not in str(reply)
    # The connection survives.
    assert (await client.request("books", namespace="count"))["status"] == 200


async def test_exception_in_async_action_is_opaque_500(connect):
    client = await connect()
    reply = await client.request("books", namespace="async_boom")
    assert reply["status"] == 500 and "secret" not in str(reply)


async def test_other_clients_unaffected_by_a_failure(connect):
    bad, good = await connect(), await connect()
    results = await asyncio.gather(
        bad.request("books", namespace="boom"), good.request("books", namespace="count")
    )
    assert [r["status"] for r in results] == [500, 200]


async def test_payload_too_large_closes_only_that_connection(connect):
    big, other = await connect(), await connect()
    await big.emit("books", {"data": "x" * 50_000})  # MAX_PAYLOAD_SIZE is 20 000 in tests
    for _ in range(100):
        if not big.client.connected:
            break
        await asyncio.sleep(0.05)
    assert not big.client.connected
    assert (await other.request("books", namespace="count"))["status"] == 200


@contextlib.asynccontextmanager
async def raw_socket(url: str):
    """A websocket that has done the Engine.IO and Socket.IO handshakes by hand."""
    async with aiohttp.ClientSession() as session:
        ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        async with session.ws_connect(ws_url) as ws:
            await ws.receive(timeout=5)  # engine.io open packet
            await ws.send_str("40")  # socket.io connect to "/"
            await ws.receive(timeout=5)
            yield ws


async def send_garbage(url: str, frame: str | bytes) -> aiohttp.WSMessage:
    """Send ``frame`` then a valid request; return the first thing the server sends back."""
    async with raw_socket(url) as ws:
        if isinstance(frame, bytes):
            await ws.send_bytes(frame)
        else:
            await ws.send_str(frame)
        await ws.send_str('42["books",{"requestId":"after"}]')
        return await ws.receive(timeout=5)


DROPPED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def test_malformed_socketio_frame_drops_the_connection(server, connect):
    message = await send_garbage(server.url, '42["books", {unterminated')
    # Engine.IO's close packet ("1") or the websocket closing: either way, dropped.
    assert message.data == "1" or message.type in DROPPED
    client = await connect()
    assert (await client.request("books", namespace="count"))["status"] == 200


@pytest.mark.parametrize("frame", ["9", "xxxxxxxx", "", "42[1,2]", "451-[]", b"\x00\xff\x00"])
async def test_garbage_frames_never_hang_the_connection(server, connect, frame):
    message = await send_garbage(server.url, frame)
    # Dropped (closed) or ignored (the next request is answered): never a hang.
    assert message.type == aiohttp.WSMsgType.TEXT or message.type in DROPPED
    client = await connect()
    assert (await client.request("books", namespace="count"))["status"] == 200


async def test_garbage_frames_log_no_traceback(server, connect):
    before = server.read_log().count("Traceback")
    for frame in ["9", "xxxxxxxx", '42["books", {bad', "4x", "42[]", b"\x00"]:
        await send_garbage(server.url, frame)
    client = await connect()  # the server still answers, and has had time to log
    assert (await client.request("books", namespace="count"))["status"] == 200
    log = server.read_log()
    assert log.count("Traceback") == before
    assert "Malformed Engine.IO frame" in log and "Malformed Socket.IO frame" in log


def test_no_traceback_logged_for_errors_in_process(caplog):
    # Dispatch logs unexpected errors with the exception attached (server side only).
    from djira.handler import exception_response
    from djira.scope import Scope

    with caplog.at_level(logging.ERROR, logger="djira"):
        response = exception_response(RuntimeError("x"), Scope(sid="s", event="e"))
    assert response.status == 500
    assert caplog.records and caplog.records[0].exc_info


@pytest.mark.parametrize("event", ["connect", "disconnect", "connect_error"])
async def test_reserved_event_with_an_ack_gets_a_400(connect, event):
    client = await connect()
    reply = await client.client.call(event, {"requestId": "r1"}, timeout=5)
    assert reply["status"] == 400 and reply["requestId"] == "r1"
    assert "reserved" in reply["data"]["detail"]
    # The connection is still whole: connection set-up was not re-run.
    assert (await client.request("tools", namespace="route"))["status"] == 200


@pytest.mark.parametrize("namespace", ["unencodable", "async_unencodable"])
@pytest.mark.parametrize("ack", [True, False])
async def test_a_reply_that_cannot_be_encoded_is_a_500(server, connect, namespace, ack):
    await Book.objects.acreate(title="a model instance is not JSON")
    client = await connect()
    reply = await client.request("tools", namespace=namespace, ack=ack)
    assert reply["status"] == 500
    assert reply["data"] == {"detail": "A server error occurred."}
    assert (await client.request("tools", namespace="route"))["status"] == 200
