"""Malformed input and failures: clear envelopes, no tracebacks, no crashes."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

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


async def _raw_socket(url: str):
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    )
    await ws.receive(timeout=5)  # engine.io open packet
    await ws.send_str("40")  # socket.io connect to "/"
    await ws.receive(timeout=5)
    return session, ws


async def test_malformed_frame_costs_one_line_and_the_connection(server, connect):
    session, ws = await _raw_socket(server.url)
    try:
        await ws.send_str('42["books", {unterminated')
        message = await ws.receive(timeout=5)
        # Engine.IO's close packet ("1") or the websocket closing: either way, dropped.
        assert message.data == "1" or message.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
        )
    finally:
        await ws.close()
        await session.close()
    client = await connect()
    assert (await client.request("books", namespace="count"))["status"] == 200


@pytest.mark.parametrize("frame", ["9", "xxxxxxxx", "", "42[1,2]", "451-[]"])
async def test_garbage_engineio_frames_close_the_connection_quietly(server, connect, frame):
    session, ws = await _raw_socket(server.url)
    try:
        await ws.send_str(frame)
        await ws.send_str('42["books",{"requestId":"after"}]')
        message = await ws.receive(timeout=5)
        # Dropped (closed) or ignored (the next request is answered): never a hang.
        assert message.type in (
            aiohttp.WSMsgType.TEXT,
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )
    finally:
        await ws.close()
        await session.close()
    client = await connect()
    assert (await client.request("books", namespace="count"))["status"] == 200


async def test_garbage_frames_log_no_traceback(server, connect):
    before = server.read_log().count("Traceback")
    for frame in ["9", "xxxxxxxx", '42["books", {bad', "4x", "42[]"]:
        session, ws = await _raw_socket(server.url)
        await ws.send_str(frame)
        await ws.close()
        await session.close()
    client = await connect()  # the server still answers, and has had time to log
    assert (await client.request("books", namespace="count"))["status"] == 200
    assert server.read_log().count("Traceback") == before


async def test_binary_garbage_frame_is_handled(server):
    session, ws = await _raw_socket(server.url)
    try:
        await ws.send_bytes(b"\x00\xff\x00")
        await ws.send_str('42["books",{"requestId":"after"}]')
        # Whatever the server decides for binary garbage, it must not hang: the socket
        # either answers the next request or closes.
        message = await ws.receive(timeout=5)
        assert message.type in (
            aiohttp.WSMsgType.TEXT,
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )
    finally:
        await ws.close()
        await session.close()


def test_no_traceback_logged_for_errors_in_process(caplog):
    # Dispatch logs unexpected errors with the exception attached (server side only).
    from djira.dispatch import exception_response
    from djira.scope import Scope

    with caplog.at_level(logging.ERROR, logger="djira"):
        response = exception_response(RuntimeError("x"), Scope(sid="s", event="e"))
    assert response.status == 500
    assert caplog.records and caplog.records[0].exc_info
