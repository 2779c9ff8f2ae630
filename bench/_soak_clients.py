"""Soak benchmark, client side: lightweight Engine.IO v4 websocket clients and the two drivers.

- ``Client``: one aiohttp websocket speaking Engine.IO/Socket.IO frames by hand (no
  python-socketio client: a thousand of those cost more than the server under test). It
  answers pings, matches acks to requests and counts pushes; when the connection ends it
  keeps the reason the server gave in a ``djira:disconnect`` event, if any.
- ``Stalled``: a bare TCP websocket with a 4 kB receive buffer that subscribes and then stops
  reading (``transport.pause_reading()``): the server's writes back up.
- ``good_main``: the well-behaved load (subscribers making steady requests, and the writer).
- ``bad_main``: the misbehaving clients (stalled, flooding, reconnecting).

Both drivers run in their own process: they connect, report ``"ready"`` on their pipe, wait
for ``("go", seconds, warmup)`` and send back a dict of what they saw.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import socket
import struct
import time
import traceback
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

DISCONNECT = '42["djira:disconnect"'
TIMEOUT = 10.0


class Closed(Exception):
    pass


class Client:
    """One Socket.IO connection over a websocket, driven by hand."""

    def __init__(self, session: Any, ws_url: str) -> None:
        self.session = session
        self.ws_url = ws_url
        self.ws: Any = None
        self.ids = 0
        self.pending: dict[int, asyncio.Future[str]] = {}
        self.pushes = 0
        self.reason: str | None = None  # from djira:disconnect
        self.closed = False
        self.closing = False  # we closed it ourselves
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> Client:
        self.ws = await self.session.ws_connect(self.ws_url, autoping=True, max_msg_size=0)
        opened = await asyncio.wait_for(self.ws.receive(), TIMEOUT)
        if not str(opened.data).startswith("0"):
            raise Closed(f"no Engine.IO open: {opened.data!r}")
        await self.ws.send_str("40")
        connected = await asyncio.wait_for(self.ws.receive(), TIMEOUT)
        if not str(connected.data).startswith("40"):
            raise Closed(f"no Socket.IO connect: {connected.data!r}")
        self.task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        import aiohttp

        try:
            async for message in self.ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                text = message.data
                if text == "2":
                    await self.ws.send_str("3")
                elif text.startswith("43"):
                    bracket = text.index("[")
                    future = self.pending.pop(int(text[2:bracket]), None)
                    if future is not None and not future.done():
                        future.set_result(text[bracket:])
                elif text.startswith(DISCONNECT):
                    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                        self.reason = json.loads(text[2:])[1]["data"]["reason"]
                    self.reason = self.reason or "djira:disconnect"
                elif text.startswith("42"):
                    self.pushes += 1
                elif text.startswith("41"):
                    self.reason = self.reason or "server namespace disconnect"
        except Exception as exc:  # noqa: BLE001 - a broken connection is an outcome here
            self.reason = self.reason or f"client side: {type(exc).__name__}"
        finally:
            if self.reason is None and self.ws.close_code is not None:
                self.reason = f"close code {self.ws.close_code}"
            self.closed = True
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(Closed("connection closed"))
                    future.exception()  # retrieved: no "never retrieved" log if none waits
            self.pending.clear()

    async def send(self, hook: str, payload: dict[str, Any]) -> asyncio.Future[str]:
        """Send one request with an ack; the future gets the reply's raw JSON array."""
        if self.closed:
            raise Closed("connection closed")
        self.ids += 1
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.pending[self.ids] = future
        await self.ws.send_str(f"42{self.ids}" + json.dumps([hook, payload]))
        return future

    async def call(self, hook: str, payload: dict[str, Any], timeout: float = TIMEOUT) -> str:  # noqa: ASYNC109
        return await asyncio.wait_for(await self.send(hook, payload), timeout)

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.task, 5)


def ok(reply: str) -> bool:
    return '"status": 200' in reply[:200] or '"status":200' in reply[:200]


def status_of(reply: str) -> int:
    for marker in ('"status":', '"status": '):
        at = reply.find(marker)
        if at >= 0:
            digits = reply[at + len(marker) : at + len(marker) + 3]
            if digits.isdigit():
                return int(digits)
    return 0


SUBSCRIBE = {"namespace": "subscribe", "action": "SUBSCRIPTION"}


async def subscribe(client: Client, pk: int | None) -> None:
    payload = dict(SUBSCRIBE) if pk is None else {**SUBSCRIBE, "pk": pk}
    reply = await client.call("articles", payload, timeout=30)
    if not ok(reply):
        raise Closed(f"subscription refused: {reply[:200]}")


async def open_many(session: Any, ws_url: str, count: int) -> list[Client]:
    """Open ``count`` clients, 50 at a time (no accept-queue overflow)."""
    clients: list[Client] = []
    for start in range(0, count, 50):
        batch = [Client(session, ws_url) for _ in range(start, min(start + 50, count))]
        clients += await asyncio.gather(*(c.open() for c in batch))
    return clients


# -- process plumbing ---------------------------------------------------------------------------


def _process_main(
    target: Any, pipe: Connection, cpu: int | None, nice: int, options: dict[str, Any]
) -> None:
    try:
        if cpu is not None and hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
            os.sched_setaffinity(0, {cpu})
        if nice:
            os.nice(nice)
        try:
            import uvloop
        except ImportError:
            result = asyncio.run(target(pipe, **options))
        else:
            result = uvloop.run(target(pipe, **options))
        pipe.send(result)
    except BaseException:
        pipe.send(traceback.format_exc())
    finally:
        pipe.close()


def good_process(pipe: Connection, cpu: int | None, options: dict[str, Any]) -> None:
    _process_main(_good, pipe, cpu, 0, options)


def bad_process(pipe: Connection, cpu: int | None, options: dict[str, Any]) -> None:
    _process_main(_bad, pipe, cpu, 5, options)


async def _wait_go(pipe: Connection) -> tuple[float, float]:
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    message = await loop.run_in_executor(None, pipe.recv)
    _, seconds, warmup = message
    return float(seconds), float(warmup)


# -- the well-behaved load ----------------------------------------------------------------------


async def _good(
    pipe: Connection,
    *,
    url: str,
    clients: int,
    interval: float,
    hot: list[int],
    pks: list[int],
    writes: float,
    body: int,
) -> dict[str, Any]:
    import aiohttp

    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = await open_many(session, ws_url, clients)
        for start in range(0, len(sockets), 100):
            await asyncio.gather(
                *(
                    subscribe(c, hot[(start + i) % len(hot)])
                    for i, c in enumerate(sockets[start : start + 100])
                )
            )
        writer = await Client(session, ws_url).open()
        seconds, warmup = await _wait_go(pipe)
        loop = asyncio.get_running_loop()
        began = loop.time()
        measure_from, end = began + warmup, began + seconds
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        writes_done = 0

        async def steady(index: int, client: Client) -> None:
            await asyncio.sleep(random.uniform(0, interval))
            sequence = 0
            while loop.time() < end and not client.closed:
                due = loop.time() + interval
                pk = pks[(index * 7919 + sequence * 31) % len(pks)]
                sequence += 1
                sent = time.perf_counter()
                measured = loop.time() >= measure_from
                try:
                    reply = await client.call("articles", {"pk": pk})
                except TimeoutError:
                    if measured:
                        errors["timeout"] += 1
                    continue
                except (Closed, ConnectionError, RuntimeError):
                    break
                if measured:
                    latencies.append(time.perf_counter() - sent)
                    if not ok(reply):
                        errors[f"status {status_of(reply)}"] += 1
                await asyncio.sleep(max(0.0, due - loop.time()))

        async def write() -> None:
            nonlocal writes_done
            filler = "x" * body
            period = 1.0 / writes
            due = loop.time()
            sequence = 0
            while loop.time() < end:
                pk = hot[sequence % len(hot)]
                payload = {"pk": pk, "body": f"{sequence} {filler}"}
                sequence += 1
                with contextlib.suppress(Exception):
                    if ok(
                        await writer.call(
                            "soak", {"action": "POST", "namespace": "touch", "data": payload}
                        )
                    ):
                        writes_done += 1
                due += period
                await asyncio.sleep(max(0.0, due - loop.time()))

        lags: list[float] = []

        async def lag_monitor() -> None:
            # How late this driver's own loop wakes up: a late driver inflates the latencies
            # it measures, which would be the driver's fault, not the server's.
            while loop.time() < end:
                planned = loop.time() + 0.1
                await asyncio.sleep(0.1)
                if planned >= measure_from:
                    lags.append(max(0.0, loop.time() - planned))

        cpu_before = time.process_time()
        tasks = [steady(i, c) for i, c in enumerate(sockets)]
        if writes > 0:
            tasks.append(write())
        await asyncio.gather(*tasks, lag_monitor())
        elapsed = loop.time() - began
        cpu = time.process_time() - cpu_before
        disconnected: Counter[str] = Counter()
        for client in sockets:
            if client.closed:
                disconnected[client.reason or "closed without a reason"] += 1
        pushes = sum(c.pushes for c in sockets)
        for start in range(0, len(sockets), 100):
            await asyncio.gather(*(c.close() for c in sockets[start : start + 100]))
        await writer.close()
    return {
        "clients": clients,
        "latencies": sorted(latencies),
        "errors": dict(errors),
        "disconnected": dict(disconnected),
        "pushes": pushes,
        "writes": writes_done,
        "cpu": cpu / elapsed if elapsed else 0.0,
        "lags": sorted(lags),
        "measured": seconds - warmup,
    }


# -- the misbehaving clients --------------------------------------------------------------------


class Stalled:
    """A websocket on a bare TCP socket that subscribes, then stops reading."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.ids = 0

    async def open(self, rooms: list[int | None]) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise Closed(head[:80].decode(errors="replace"))
        if not (await self.recv() or "").startswith("0"):
            raise Closed("no Engine.IO open")
        await self.send("40")
        if not (await self.recv() or "").startswith("40"):
            raise Closed("no Socket.IO connect")
        ids = []
        for pk in rooms:
            self.ids += 1
            ids.append(self.ids)
            payload = dict(SUBSCRIBE) if pk is None else {**SUBSCRIBE, "pk": pk}
            await self.send(f"42{self.ids}" + json.dumps(["articles", payload]))
        acked = 0
        while acked < len(ids):  # read until the subscriptions are acknowledged
            text = await self.recv()
            if text is None:
                raise Closed("closed while subscribing")
            acked += text.startswith("43")
        assert self.writer is not None
        self.writer.transport.pause_reading()  # type: ignore[attr-defined]

    async def send(self, text: str) -> None:
        assert self.writer is not None
        payload = text.encode()
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x81, 0x80 | size)
        else:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    async def recv(self) -> str | None:
        assert self.reader is not None
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
                return None
            opcode = first & 0x0F
            if opcode == 8:
                return None
            if opcode == 9:
                continue
            text = data.decode(errors="replace")
            if text == "2":
                await self.send("3")
                continue
            return text

    async def ask_without_reading(self, pk: int) -> None:
        """Send a retrieve whose reply this client will not read (it stays on the server)."""
        self.ids += 1
        await self.send(f"42{self.ids}" + json.dumps(["articles", {"pk": pk}]))

    async def outcome(self, seconds: float) -> str:  # noqa: ASYNC109
        """Read again after the stall: why (and whether) the server closed the connection."""
        assert self.writer is not None
        self.writer.transport.resume_reading()  # type: ignore[attr-defined]
        reason = None
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            while True:
                left = deadline - asyncio.get_running_loop().time()
                text = await asyncio.wait_for(self.recv(), max(left, 0.01))
                if text is None:
                    return reason or "closed without a reason"
                if text.startswith(DISCONNECT):
                    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                        reason = json.loads(text[2:])[1]["data"]["reason"]
                    reason = reason or "djira:disconnect"
        except TimeoutError:
            return reason or "still open"

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _bad(
    pipe: Connection,
    *,
    url: str,
    port: int,
    stalled: int,
    flooders: int,
    reconnectors: int,
    hot: list[int],
    pks: list[int],
    stall: float,
    stalled_rate: float,
    window: int,
    pause: float,
) -> dict[str, Any]:
    import aiohttp

    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        floods = await open_many(session, ws_url, flooders)
        seconds, _warmup = await _wait_go(pipe)
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        stalls: Counter[str] = Counter()
        flood: Counter[str] = Counter()
        cycles: Counter[str] = Counter()

        async def stalled_loop(index: int) -> None:
            await asyncio.sleep(index * 0.1)
            while loop.time() < end - 5:
                client = Stalled(port)
                try:
                    await asyncio.wait_for(client.open([None, *hot]), 30)
                except (Closed, OSError, TimeoutError):
                    stalls["could not subscribe"] += 1
                    client.close()
                    await asyncio.sleep(1)
                    continue
                stalls["stalled"] += 1
                until = loop.time() + max(0.0, min(stall, end - loop.time() - 3))
                sequence, rate = 0, stalled_rate
                while loop.time() < until:
                    if rate > 0:
                        try:  # it keeps asking, and reads none of the replies
                            await asyncio.wait_for(
                                client.ask_without_reading(hot[sequence % len(hot)]), 5
                            )
                        except (OSError, TimeoutError):
                            rate = 0.0  # closed, or its own sends back up: just wait
                        sequence += 1
                    await asyncio.sleep(1 / rate if rate > 0 else until - loop.time())
                stalls[await client.outcome(2.0)] += 1
                client.close()

        def answered_in_run(future: asyncio.Future) -> None:
            # Replies after the run's end are not what the well-behaved clients competed with.
            if loop.time() < end and not future.cancelled() and future.exception() is None:
                flood[f"status {status_of(future.result())} during the run"] += 1

        async def flood_loop(client: Client) -> None:
            # A flooder whose connection is closed connects again and goes on flooding, as a
            # hostile client would: the flood lasts the whole run.
            sequence = 0
            while loop.time() < end:
                if client.closed:
                    flood[f"disconnected: {client.reason or 'closed without a reason'}"] += 1
                    await asyncio.sleep(0.5)
                    client = Client(session, ws_url)
                    try:
                        await client.open()
                    except Exception:  # noqa: BLE001 - counted
                        flood["could not reconnect"] += 1
                        continue
                    flood["reconnected"] += 1
                    floods.append(client)
                futures = []
                try:
                    for _ in range(window):
                        pk = pks[sequence % len(pks)]
                        sequence += 1
                        futures.append(await client.send("articles", {"pk": pk}))
                except (Closed, ConnectionError, RuntimeError):
                    await client.close()
                    client.closed = True
                    continue
                flood["sent"] += len(futures)
                for future in futures:
                    future.add_done_callback(answered_in_run)
                done, missing = await asyncio.wait(futures, timeout=60)
                flood["unanswered"] += len(missing)
                for future in done:
                    if future.exception() is not None:
                        flood["connection closed"] += 1
                    else:
                        flood[f"status {status_of(future.result())}"] += 1

        async def reconnect_loop(index: int) -> None:
            await asyncio.sleep(random.uniform(0, max(pause, 0.1)))
            while loop.time() < end:
                client = Client(session, ws_url)
                try:
                    await client.open()
                    await subscribe(client, hot[index % len(hot)])
                    cycles["done"] += 1
                except Exception:  # noqa: BLE001 - counted
                    cycles["failed"] += 1
                await client.close()
                await asyncio.sleep(pause)

        await asyncio.gather(
            *(stalled_loop(i) for i in range(stalled)),
            *(flood_loop(c) for c in floods),
            *(reconnect_loop(i) for i in range(reconnectors)),
        )
        for client in floods:
            await client.close()
    return {"stalls": dict(stalls), "flood": dict(flood), "cycles": dict(cycles)}
