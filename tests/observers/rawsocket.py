"""An Engine.IO v4 websocket client on a bare TCP socket, that reads only when asked.

python-socketio's client (and aiohttp's) read the connection in the background; a client
that *stops reading* must leave bytes in the kernel, so that the server's writes back up.
This one reads a frame only when ``recv()`` is called, with a small receive buffer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.closed = False
        self._ids = 0

    @classmethod
    async def open(cls, port: int, rcvbuf: int | None = 4096) -> RawSocket:
        """Connect; ``rcvbuf``: the kernel's receive buffer (``None``: the system's)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        raw = cls(reader, writer)
        assert (await raw.recv()).startswith("0")  # Engine.IO open
        await raw.send("40")
        assert (await raw.recv()).startswith("40")  # Socket.IO connect
        return raw

    async def send(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x81, 0x80 | size)
        elif size < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if size < 4096 else None
        if masked is None:  # large: mask with int arithmetic
            full = (mask * (size // 4 + 1))[:size]
            masked = (int.from_bytes(payload, "big") ^ int.from_bytes(full, "big")).to_bytes(
                size, "big"
            )
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    async def recv(self) -> str | None:
        """The next text message (answering pings), or ``None`` once the server closed."""
        while True:
            try:
                first, second = await self.reader.readexactly(2)
                size = second & 0x7F
                if size == 126:
                    (size,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
                data = await self.reader.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError):
                self.closed = True
                return None
            opcode = first & 0x0F
            if opcode == 8:
                self.closed = True
                return None
            if opcode == 9:  # websocket ping
                continue
            text = data.decode()
            if text == "2":  # Engine.IO ping
                await self.send("3")
                continue
            return text

    async def call(self, hook: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one request with an acknowledgement and read until its reply."""
        (reply,) = await self.calls(hook, [payload])
        return reply

    async def calls(self, hook: str, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send requests at once (each with an ack); return their replies in order."""
        ids = []
        for payload in payloads:
            self._ids += 1
            ids.append(self._ids)
            await self.send(f"42{self._ids}" + json.dumps([hook, payload]))
        return await self.acks(ids)

    async def send_only(self, hook: str, payload: dict[str, Any]) -> int:
        self._ids += 1
        await self.send(f"42{self._ids}" + json.dumps([hook, payload]))
        return self._ids

    async def acks(self, ids: list[int]) -> list[dict[str, Any]]:
        replies: dict[int, dict[str, Any]] = {}
        while len(replies) < len(ids):
            text = await self.recv()
            assert text is not None, "the server closed the connection"
            if text.startswith("43"):
                digits = text[2 : text.index("[")]
                replies[int(digits)] = json.loads(text[2 + len(digits) :])[0]
        return [replies[i] for i in ids]

    def close(self) -> None:
        self.writer.close()
