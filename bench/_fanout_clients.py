"""Lean Engine.IO v4 websocket subscribers for the fan-out benchmarks (fanout.py, fanout_10k.py).

Each subscriber is an ``asyncio.Protocol`` on a plain TCP connection that speaks the
websocket handshake and frames by hand: what a push costs it is a few microseconds (a
header read and a ``bytes.find``), so a thousand of them on one core measure the server,
not the client (aiohttp's websocket client costs about ten times as much per message). It
answers Engine.IO and websocket pings, and reports every push whose frame holds
``"title":"fan-<phase>-<seq>"`` to ``on_push(key, arrival_time, frame)``.

``open_subscribers(host, port, count, subscribe, on_push)`` connects ``count`` of them in
slices (no accept-queue overflow), each subscribed with the Socket.IO frame ``subscribe``
(acknowledged as ``431``), and returns them.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

PushCallback = Callable[[tuple[int, int], float, bytes], None]

_MARK = b'"title":"fan-'
_PING = b"2"


def _client_frame(text: str, opcode: int = 0x1) -> bytes:
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return header + b"\x00\x00\x00\x00" + payload  # a zero mask key leaves the payload as is


_PONG_FRAME = _client_frame("3")  # Engine.IO's pong


class Subscriber(asyncio.Protocol):
    """One subscribed websocket, parsing the server's (unmasked) frames in place."""

    def __init__(
        self, host: str, port: int, subscribe: str, on_push: PushCallback, deflate: bool = False
    ) -> None:
        # ``deflate``: offer permessage-deflate, as browsers do (compressed frames are
        # inflated here); ``subscribe`` empty: ready once connected to the namespace.
        extension = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
        self.request = (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extension}\r\n"
        ).encode()
        self.inflate: Any = zlib.decompressobj(-15) if deflate else None
        self.subscribe = subscribe
        self.on_push = on_push
        self.buffer = b""
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: Any = None
        self.closed = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before subscribing"))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.transport.close()
                return
            self.upgraded = True
            buffer = buffer[end + 4 :]
        at, size_all = 0, len(buffer)
        while size_all - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            size, start = second & 0x7F, at + 2
            if size == 126:
                if size_all - at < 4:
                    break
                (size,) = struct.unpack_from("!H", buffer, at + 2)
                start = at + 4
            elif size == 127:
                if size_all - at < 10:
                    break
                (size,) = struct.unpack_from("!Q", buffer, at + 2)
                start = at + 10
            if size_all < start + size:
                break
            if first & 0x40 and self.inflate is not None:  # RSV1: a compressed message
                data = self.inflate.decompress(buffer[start : start + size] + b"\x00\x00\xff\xff")
                self._frame(first & 0x0F, data, 0, len(data))
            else:
                self._frame(first & 0x0F, buffer, start, start + size)
            at = start + size
        self.buffer = buffer[at:] if at < size_all else b""

    def _frame(self, opcode: int, buffer: bytes, start: int, end: int) -> None:
        if opcode == 0x1:
            head = buffer[start : start + 3]
            if head.startswith(b"42"):
                mark = buffer.find(_MARK, start, end)
                if mark >= 0:
                    mark += len(_MARK)
                    dash = buffer.index(b"-", mark)
                    quote = buffer.index(b'"', dash)
                    key = (int(buffer[mark:dash]), int(buffer[dash + 1 : quote]))
                    self.on_push(key, time.time(), buffer[start:end])
            elif head == _PING:
                self.transport.write(_PONG_FRAME)
            elif head.startswith(b"0"):  # Engine.IO open: connect to the namespace
                self.transport.write(_client_frame("40"))
            elif head.startswith(b"40"):  # Socket.IO connect: subscribe
                if not self.subscribe:
                    self.ready.set_result(None)
                else:
                    self.transport.write(_client_frame(self.subscribe))
            elif head.startswith(b"431") and not self.ready.done():
                self.ready.set_result(None)
        elif opcode == 0x9:  # websocket ping: pong with its payload
            self.transport.write(_pong(buffer[start:end]))
        elif opcode == 0x8:
            self.transport.close()


def _pong(payload: bytes) -> bytes:
    return struct.pack("!BB", 0x8A, 0x80 | len(payload)) + b"\x00\x00\x00\x00" + payload


async def open_subscribers(
    host: str,
    port: int,
    count: int,
    subscribe: str,
    on_push: PushCallback,
    slice_: int = 100,
    deflate: bool = False,
) -> list[Subscriber]:
    """``count`` subscribed ``Subscriber``s (each acknowledged its subscription)."""
    loop = asyncio.get_running_loop()
    subscribers: list[Subscriber] = []
    for start in range(0, count, slice_):
        batch = [
            Subscriber(host, port, subscribe, on_push, deflate)
            for _ in range(start, min(start + slice_, count))
        ]
        await asyncio.gather(*(loop.create_connection(lambda s=s: s, host, port) for s in batch))
        await asyncio.wait_for(asyncio.gather(*(s.ready for s in batch)), 60)
        subscribers += batch
    return subscribers


def close_all(subscribers: list[Subscriber]) -> None:
    for subscriber in subscribers:
        if subscriber.transport is not None:
            subscriber.transport.close()
