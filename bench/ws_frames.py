"""What uvicorn's websocket implementations cost per frame sent, in-process.

    python -m bench.ws_frames                  # 20,000 frames of ~400 bytes per implementation
    python -m bench.ws_frames --frames 50000 --size 2000

For each of uvicorn's websocket servers (``websockets-sansio``, its default with websockets
14 or later; ``wsproto``; ``websockets``, the legacy one), one connection is opened on a
transport that only counts what is written (no socket, no kernel), and the time of
``await send({"type": "websocket.send", "text": ...})`` (the ASGI call python-engineio's
writer makes for every message) is measured per frame: the websocket server's own cost of a
frame. ``direct`` is what djira's fan-out does instead for a push (djira.delivery.wire):
the frame, encoded once per push, written to the transport as it is. Median of
``--rounds``; this process's CPU time, not the kernel's (a real ``write`` adds a system call
per frame, whichever path: see docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import time
from typing import Any

IMPLEMENTATIONS = ("websockets-sansio", "wsproto", "websockets")


class CountingTransport(asyncio.Transport):
    """A transport that accepts every write at once and counts the bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.written += len(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        info = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return info.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: Any = None, low: Any = None) -> None:
        pass


async def _connect(ws: str, done: asyncio.Event) -> tuple[Any, CountingTransport]:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    accepted: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        accepted.set_result(send)
        await done.wait()  # held open until measured

    config = Config(app=app, ws=ws, lifespan="off", log_level="warning")
    config.load()
    protocol = config.ws_protocol_class(  # type: ignore[misc]
        config=config, server_state=ServerState(), app_state={}
    )
    transport = CountingTransport()
    protocol.connection_made(transport)
    key = base64.b64encode(os.urandom(16)).decode()
    protocol.data_received(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    send = await asyncio.wait_for(accepted, 10)
    return send, transport


async def measure(ws: str, frames: int, text: str) -> float:
    """Microseconds per ``send`` of ``text`` over ``ws``."""
    done = asyncio.Event()
    send, transport = await _connect(ws, done)
    for _ in range(200):  # warm-up
        await send({"type": "websocket.send", "text": text})
    began = time.process_time()  # this process's CPU time: steadier on a shared machine
    for _ in range(frames):
        await send({"type": "websocket.send", "text": text})
    elapsed = time.process_time() - began
    assert transport.written > frames * len(text)
    done.set()
    await asyncio.sleep(0.01)  # the application returns
    return elapsed * 1e6 / frames


def direct(frames: int, text: str) -> float:
    """Microseconds per recipient of djira's direct path (frame built once per push)."""
    from djira.delivery.wire import text_frame

    transport = CountingTransport()
    frame = text_frame(text)
    began = time.process_time()
    for _ in range(frames):
        if not transport.is_closing() and not transport.get_write_buffer_size():
            transport.write(frame)
    return (time.process_time() - began) * 1e6 / frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=400, help="bytes of text per frame")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    text = "42" + "x" * (args.size - 2)
    print(f"load average: {os.getloadavg()[0]:.1f}; {args.frames} frames of {args.size} bytes")
    for ws in IMPLEMENTATIONS:
        runs = [asyncio.run(measure(ws, args.frames, text)) for _ in range(args.rounds)]
        print(f"{ws:18} {statistics.median(runs):6.2f} us per frame (uvicorn's send)")
    runs = [direct(args.frames, text) for _ in range(args.rounds)]
    print(f"{'direct':18} {statistics.median(runs):6.2f} us per recipient (frame written as is)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
