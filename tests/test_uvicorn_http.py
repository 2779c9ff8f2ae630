"""djira.uvicorn_http: uvicorn's httptools protocol, which leaves no reference cycle behind a
websocket, over a real uvicorn server (in this process, to count what stays alive)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import uvicorn

from djira.uvicorn_http import HttpToolsProtocol

pytest.importorskip("httptools")
from uvicorn.protocols.http.httptools_impl import (  # noqa: E402
    HttpToolsProtocol as UvicornHttpToolsProtocol,
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An HTTP "ok", and a websocket that echoes each text message."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": event["text"]})
        else:
            return


@contextlib.asynccontextmanager
async def serving(http: type[asyncio.Protocol]) -> AsyncIterator[tuple[int, uvicorn.Server]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, http=http, ws="websockets-sansio", lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):  # uvicorn says nothing when it has started: look
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        yield sock.getsockname()[1], server
    finally:
        server.should_exit = True
        await task
        sock.close()


async def alive_after_a_websocket(http: type[asyncio.Protocol]) -> int:
    """How many ``http`` protocols a websocket that came and went leaves alive, with the
    garbage collector off (only reference counting frees anything)."""
    gc.collect()
    gc.disable()
    try:
        async with serving(http) as (port, server):
            before = sum(isinstance(obj, http) for obj in gc.get_objects())
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    assert response.status == 200 and await response.text() == "ok"
                async with session.ws_connect(f"ws://127.0.0.1:{port}/") as ws:
                    await ws.send_str("hello")
                    assert (await ws.receive(timeout=5)).data == "hello"
            for _ in range(200):  # until the server saw the websocket go
                if not server.server_state.connections:
                    break
                await asyncio.sleep(0.01)
            assert not server.server_state.connections
            await asyncio.sleep(0.05)
            return sum(isinstance(obj, http) for obj in gc.get_objects()) - before
    finally:
        gc.enable()


async def test_a_websocket_leaves_no_http_protocol_for_the_collector():
    if await alive_after_a_websocket(UvicornHttpToolsProtocol) == 0:
        pytest.skip("uvicorn's own protocol no longer leaves its cycle: djira's is not needed")
    assert await alive_after_a_websocket(HttpToolsProtocol) == 0


async def test_it_serves_http_and_websockets_as_uvicorn_does():
    async with serving(HttpToolsProtocol) as (port, _server), aiohttp.ClientSession() as session:
        for _ in range(3):  # keep-alive: several requests on one connection
            async with session.get(f"http://127.0.0.1:{port}/") as response:
                assert response.status == 200 and await response.text() == "ok"
        async with session.ws_connect(f"ws://127.0.0.1:{port}/") as ws:
            for text in ("one", "two"):
                await ws.send_str(text)
                assert (await ws.receive(timeout=5)).data == text


def test_it_is_uvicorns_httptools_protocol():
    assert issubclass(HttpToolsProtocol, UvicornHttpToolsProtocol)
    config = uvicorn.Config(app, http="djira.uvicorn_http:HttpToolsProtocol")
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
