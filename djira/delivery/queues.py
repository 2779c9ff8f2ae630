"""Each socket's outgoing queue, bounded in messages and bytes, and what happens past it.

python-engineio gives every socket an unbounded ``asyncio.Queue`` that its writer task
empties into the transport. A client that stops reading would make it grow for ever (every
push and reply kept until the connection dies). djira swaps it, as the socket connects
(``DjiraServer._handle_eio_connect``), for a ``SocketQueue``: the queue methods
python-engineio calls, over one deque, counting the Socket.IO messages waiting in it and
their bytes.

The socket's reader looks at the queue too (``DjiraSocket.receive``): while half the bound
waits (the client reads none of what it is sent), it reads none of the client's requests
either, a second at most per message, so that a stalled client does not go on costing
replies that can only pile up.

Past ``MAX_QUEUED_MESSAGES`` or ``MAX_QUEUED_BYTES`` the socket is a **slow consumer**
(Centrifugo's word): what waits for it is dropped, it is sent one last event,
``djira:disconnect``, an envelope with ``"status": 503`` and
``"data": {"reason": "slow consumer", "detail": ..., "reconnect": true}``, and
its transport is closed without a Socket.IO disconnect packet, so socket.io-client and
python-socketio's ``AsyncClient`` both see a transport close and reconnect by themselves
(djira's client then resubscribes with ``since`` and catches up from the rooms' history).
The server's disconnect handlers get the reason ``"slow consumer"``: the console's
disconnect row shows it, and its count of disconnects by reason counts it.

Memory per socket is then at most twice the bound: what waits in the queue, and the batch
python-engineio's writer took from it and is still sending (it takes all that waits at once).
Control packets (ping, close, the writer's stop sentinel) are never refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet

from djira.delivery.wire import Wire, text_frame, wire_for

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

#: The reason disconnect handlers (and the console) get for a socket past its queue's bound.
SLOW_CONSUMER = "slow consumer"
#: The event a socket receives just before it is closed for a reason clients should know.
DISCONNECT_EVENT = "djira:disconnect"

_MESSAGE = eio_packet.MESSAGE

#: The longest a socket's reader waits before handing on a client's message, when the
#: client does not read its replies or floods past its cap (djira.handler.pace): its pongs
#: and further requests are still read, a second at a time.
PACE_TIMEOUT = 1.0


def packet_size(item: Any) -> int:
    """The bytes a queued Engine.IO packet holds (its encoded Socket.IO text or binary)."""
    data = getattr(item, "data", None)
    if isinstance(data, str | bytes | bytearray):
        return len(data)
    return 64


class SocketQueue:
    """python-engineio's per-socket queue, bounded, counting the messages and bytes it holds.

    The ``asyncio.Queue`` methods python-engineio calls (``put``/``put_nowait``, ``get``/
    ``get_nowait``, ``empty``, ``qsize``, ``task_done``, ``join``) over one deque: an
    ``asyncio.Queue`` is three deques and an event, about 3.3 KiB per connection before it
    holds anything, this about 1 KiB.

    ``put_nowait`` (and so ``put``, which never waits) refuses a Socket.IO message that
    would take it past ``max_messages`` or ``max_bytes``, and calls ``on_overflow`` once;
    every message after that is dropped too, until the socket closes. ``has_room`` is true
    while the queue holds at most half its bounds: what a paced sender (a catch-up) waits
    for (``wait_for_room``), so that live pushes keep the other half.
    """

    __slots__ = (
        "_items",
        "_getters",
        "_unfinished",
        "_joined",
        "_room",
        "max_messages",
        "max_bytes",
        "on_overflow",
        "messages",
        "bytes",
        "high_water",
        "overflowed",
        "catch_up_lock",
        "wire",
        "writer_idle",
        "stopped",
    )

    def __init__(
        self,
        max_messages: int | None,
        max_bytes: int | None,
        on_overflow: Callable[[SocketQueue], None] | None = None,
    ) -> None:
        self._items: deque[Any] = deque()
        # Futures of ``get`` calls waiting for an item (python-engineio's writer: one).
        self._getters: list[asyncio.Future[None]] = []
        self._unfinished = 0  # items put and not yet marked done (``join``)
        self._joined: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None  # a paced sender waiting for room
        self.max_messages = max_messages if max_messages else 1 << 62
        self.max_bytes = max_bytes if max_bytes else 1 << 62
        self.on_overflow = on_overflow
        self.messages = 0
        self.bytes = 0
        #: The most messages that ever waited at once: read by the metrics (a histogram
        #: when the socket closes, a gauge at scrape time), never reset.
        self.high_water = 0
        self.overflowed = False
        # One catch-up at a time per socket (djira.delivery.local.paced).
        self.catch_up_lock = asyncio.Lock()
        #: The connection's transport, for pushes written to it directly (djira.delivery.
        #: wire): set while a websocket (not an upgraded long-polling socket) is served.
        self.wire: Wire | None = None
        #: True while the socket's writer waits for this queue: it holds nothing unsent.
        self.writer_idle = False
        #: Whether the writer's stop sentinel was queued (``stop``).
        self.stopped = False

    # -- asyncio.Queue's methods, as python-engineio uses them -------------------------------

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        if item is not None and getattr(item, "packet_type", None) == _MESSAGE:
            if self.overflowed:
                return
            size = packet_size(item)
            if self.messages >= self.max_messages or self.bytes + size > self.max_bytes:
                self.overflowed = True
                self._wake_room()  # paced senders wake up and find the socket closing
                if self.on_overflow is not None:
                    self.on_overflow(self)
                return
            self.messages += 1
            self.bytes += size
            if self.messages > self.high_water:
                self.high_water = self.messages
        self.force_put(item)

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def force_put(self, item: Any) -> None:
        """Queue ``item`` whatever the bounds (the last event of a closing socket)."""
        self._items.append(item)
        self._unfinished += 1
        if self._getters:
            for getter in self._getters:
                if not getter.done():
                    getter.set_result(None)
            self._getters.clear()

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        if item is not None and getattr(item, "packet_type", None) == _MESSAGE:
            self.messages = max(0, self.messages - 1)
            self.bytes = max(0, self.bytes - packet_size(item))
            if self._room is not None and self.has_room():
                self._wake_room()
        return item

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            finally:
                if getter in self._getters:  # cancelled (a timeout): nobody woke it
                    self._getters.remove(getter)
        return self.get_nowait()

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._joined is not None:
            if not self._joined.done():
                self._joined.set_result(None)
            self._joined = None

    async def join(self) -> None:
        if self._unfinished:
            if self._joined is None:
                self._joined = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._joined)

    # -- djira's -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Queue the writer's stop sentinel (``None``), once: it ends the writer once what
        waits before it is sent. Later calls do nothing, so that no sentinel is left over
        for ``join`` to wait on."""
        if not self.stopped:
            self.stopped = True
            self.force_put(None)

    def direct(self) -> Wire | None:
        """The connection to write a message straight to, if that keeps the socket's order:
        nothing waits for it (its writer is idle, its queue and its transport are empty)."""
        wire = self.wire
        if wire is not None and self.writer_idle and not self._items and wire.writable():
            return wire
        return None

    def has_room(self) -> bool:
        return self.messages * 2 <= self.max_messages and self.bytes * 2 <= self.max_bytes

    async def wait_for_room(self) -> None:
        """Until ``has_room`` (or the queue overflowed: the socket is closing). A coroutine."""
        while not (self.has_room() or self.overflowed):
            if self._room is None or self._room.done():
                self._room = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._room)

    def _wake_room(self) -> None:
        room, self._room = self._room, None
        if room is not None and not room.done():
            room.set_result(None)

    def drop_messages(self) -> int:
        """Forget the Socket.IO messages waiting (keeping control packets); return how many."""
        queued = self._items
        kept = [i for i in queued if i is None or getattr(i, "packet_type", None) != _MESSAGE]
        dropped = len(queued) - len(kept)
        queued.clear()
        queued.extend(kept)
        for _ in range(dropped):
            self.task_done()  # so that python-engineio's close(wait=True) does not hang
        self.messages = self.bytes = 0
        self._wake_room()
        return dropped


class DjiraSocket(AsyncSocket):
    """python-engineio's socket, whose writer waits for its queue without a task per wake.

    ``AsyncSocket.poll`` waits with ``asyncio.wait_for(queue.get(), timeout)``, which on
    Python 3.11 wraps the wait in a new task every time the writer goes idle: one task per
    socket per push under fan-out. ``poll`` here waits under ``asyncio.timeout`` instead,
    with the same result (the packets waiting, ``[]`` at the stop sentinel, ``QueueEmpty``
    on timeout), and marks the queue's writer idle while it waits; the writer of a
    websocket waits with no timeout, until the socket closes. A socket that connected
    as a websocket gets its connection's ``Wire`` for the time it is served, so that pushes
    can skip the writer while it is idle (djira.delivery.local.fan_out), and is read by a
    loop of its own (``_serve_websocket``) with no task per message. Its next ping waits on
    a timer cancelled when it closes (``schedule_ping``), not in a task holding it. The
    class of a socket is swapped as it connects (``install``): python-engineio builds
    ``AsyncSocket`` itself, with no factory to override.
    """

    #: Set by ``install`` to the consumer's ``pace``: awaited, when it returns something,
    #: before a client message is handed on, so that a flooding connection is read no
    #: faster than its requests are answered (djira.handler.pace).
    pace: Callable[[str], Awaitable[None] | None] | None = None
    #: python-engineio's: when the ping not answered yet went out (``None`` once it is).
    last_ping: float | None
    #: Whether the reader holds a message back while the client floods (``pace``), and
    #: when it last read one so held.
    pacing = False
    held_at = 0.0
    #: The timer of the next ping (``schedule_ping``).
    _ping_timer: asyncio.TimerHandle | None = None
    #: True while ``_serve_websocket`` serves it: its writer then ends at the queue's stop.
    serving = False

    async def receive(self, pkt: Any) -> None:
        if pkt.packet_type == eio_packet.MESSAGE:
            queue = self.queue
            if isinstance(queue, SocketQueue) and not queue.has_room():
                # The client reads none of what it is sent: rather than answer requests
                # whose replies would only pile up, wait for room (its next reply may
                # close it as a slow consumer).
                await self._hold(queue.wait_for_room())
            elif self.pace is not None and (slot := self.pace(self.sid)) is not None:
                # It floods past its cap: read on once a request is answered (its next
                # request may be refused, 429).
                self.pacing = True
                try:
                    await self._hold(slot)
                finally:
                    self.pacing = False
                    self.held_at = time.time()
                await self._ping_again()
        await super().receive(pkt)

    async def send(self, pkt: Any) -> None:
        # A message for a socket that nothing waits for goes straight to its connection, as
        # a fan-out's pushes do (djira.delivery.local.fan_out): a request's reply skips the
        # writer task's wake-up and the ASGI ``send``, which would frame it again.
        queue = self.queue
        if not (
            pkt.packet_type == _MESSAGE
            and isinstance(queue, SocketQueue)
            and queue.direct() is not None
        ):
            return await super().send(pkt)
        if not await self.check_ping_timeout():
            return None
        wire = queue.direct()  # again: the check may have waited
        text = pkt.encode()
        if wire is not None and isinstance(text, str):
            wire.transport.write(text_frame(text))
        else:
            await queue.put(pkt)
        return None

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        timer, self._ping_timer = self._ping_timer, None
        if timer is not None:
            timer.cancel()  # a closing socket is pinged no more (python-engineio's check)
        await super().close(wait=wait, abort=abort, reason=reason)
        if self.serving and self.closed:
            # Its writer waits for nothing more: it sends what is queued (python-engineio's
            # CLOSE packet among it), then closes the websocket (``_write_websocket``).
            self.queue.stop()

    def schedule_ping(self) -> None:
        # python-engineio waits for the next ping in a new task that sleeps ping_interval.
        # The task holds the socket, so a socket closed meanwhile stays alive until it wakes
        # (25 s by default), and with it everything its connection held (the ASGI
        # connection, the websocket protocol: thousands of objects). Under connection
        # churn those were most of what the older garbage collections scanned, pausing
        # every connection (bench/soak.py). A timer waits instead, cancelled on close.
        if self.last_ping:
            self.last_ping = None
            loop = asyncio.get_running_loop()
            self._ping_timer = loop.call_later(self.server.ping_interval, self._ping_due)

    def _ping_due(self) -> None:
        self._ping_timer = None
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.server.start_background_task(self.send, eio_packet.Packet(eio_packet.PING))

    async def check_ping_timeout(self) -> bool:
        # Called by engineio before each send, to close a client whose pong is late. Its
        # pong may be among the frames held back while it floods: a frame of it read in
        # the last ping_timeout shows it alive (its pong is read once it is paced no more).
        held_at = self.held_at  # 0.0 for a socket never held: no clock read per send
        if self.pacing or (held_at and time.time() - held_at < self.server.ping_timeout):
            if self.closed:
                raise eio_exceptions.SocketIsClosedError()
            return True
        return bool(await super().check_ping_timeout())

    async def _ping_again(self) -> None:
        # engineio pings again only once the last pong is read, and a client closes a
        # server that does not ping every ping_interval: while its pong is held, ping it.
        last_ping = self.last_ping
        if last_ping and time.time() - last_ping >= self.server.ping_interval:
            self.last_ping = time.time()
            await self.send(eio_packet.Packet(eio_packet.PING))

    async def _hold(self, waiting: Awaitable[None]) -> None:
        # A second at most: the client's further frames (pongs, requests) are then read.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PACE_TIMEOUT):
                await waiting

    async def _websocket_handler(self, ws: Any) -> Any:
        if self.connected:
            # An upgrade from long-polling: python-engineio's own steps (the probe, then its
            # read loop). No wire: its writer starts only once the upgrade is done, and the
            # polling requests' waits would look like an idle writer.
            return await super()._websocket_handler(ws)
        queue = self.queue
        direct = isinstance(queue, SocketQueue)
        if direct:
            queue.wire = wire_for(ws.asgi_send)
        try:
            return await self._serve_websocket(ws)
        finally:
            if direct:
                queue.wire = None

    async def _serve_websocket(self, ws: Any) -> list[Any]:
        """python-engineio's websocket loop for a socket that connected as one, reading each
        message with one plain await.

        python-engineio wraps every read in a new task under ``asyncio.wait_for`` (a timer,
        futures, contexts and callbacks: about twenty objects per connection, alive until
        the client's next message). With hundreds of connections each waiting for its next
        message, those made up most of what every young garbage collection had to scan, a
        pause for every connection (bench/soak.py). The read timeout they implement is the
        server's ping check (``check_ping_timeout``, run for every socket by
        djira.engine's service task): a client that answers no ping is closed there, and
        closing it ends this read. The rest is python-engineio's own sequence: a writer task
        emptying the queue, packets too large or unreadable ending the connection. A client
        that goes ends the loop without an exception (python-engineio's websocket raises
        ``OSError`` then, whose traceback held the loop's task: a cycle per connection).
        """
        self.connected = True
        self.upgraded = True
        self.serving = True
        server = self.server
        writer = asyncio.ensure_future(self._write_websocket(ws))
        limit = server.max_http_buffer_size
        receive = ws.asgi_receive
        while True:
            try:
                event = await receive()
            except (Exception, asyncio.CancelledError):  # as python-engineio: the end
                break
            if event["type"] != "websocket.receive":  # the client went
                break
            data = event.get("bytes")
            if data is None:
                data = event.get("text")
            if data is None or len(data) > limit:  # empty, or too large: as python-engineio
                break
            try:
                await self.receive(eio_packet.Packet(encoded_packet=data))
            except eio_exceptions.UnknownPacketError:
                pass
            except eio_exceptions.SocketIsClosedError:
                server.logger.info("Receive error -- socket is closed")
                break
            except Exception:
                server.logger.exception("Unknown receive error")
            # Frames already buffered would be read without a pause: let the tasks that
            # take the message on start first (python-engineio's, then python-socketio's),
            # so that a request counts as in flight (djira.handler.answer) before the next
            # frame is read, as with python-engineio's loop. The pacing of a flooding client
            # (djira.handler.pace) and the hold of one not reading rest on that.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        self.queue.stop()
        await writer
        await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)
        return []

    async def _write_websocket(self, ws: Any) -> None:
        # python-engineio's writer: what waits in the queue, until the stop sentinel. It
        # waits with no timeout (python-engineio's: ping_interval + ping_timeout): the
        # socket's closing stops it (``close``), and a timeout per connection was a timer,
        # a handle and a context alive between any two of its messages, which every young
        # garbage collection scanned (bench/soak.py).
        while True:
            try:
                packets = await self._take(None)
            except eio_exceptions.QueueEmpty:
                break
            if not packets:
                break
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except Exception:
                break
        await ws.close()

    async def poll(self) -> list[Any]:
        # What python-engineio's long-polling requests (and the writer of a socket upgraded
        # from long-polling) wait for, with its timeout.
        return await self._take(self.server.ping_interval + self.server.ping_timeout)

    async def _take(self, within: float | None) -> list[Any]:
        """The packets waiting, at least one; ``[]`` at the stop sentinel; ``QueueEmpty``
        when none came ``within`` seconds (``None``: no limit) or when cancelled."""
        queue = self.queue
        queue.writer_idle = True
        try:
            if within is None:
                first = await queue.get()
            else:
                async with asyncio.timeout(within):
                    first = await queue.get()
        except (TimeoutError, asyncio.CancelledError):
            raise eio_exceptions.QueueEmpty() from None
        finally:
            queue.writer_idle = False
        queue.task_done()
        if first is None:
            return []
        packets = [first]
        while not queue.empty():
            item = queue.get_nowait()
            queue.task_done()
            if item is None:
                queue.put_nowait(None)
                break
            packets.append(item)
        return packets


def install(server: DjiraServer, eio_sid: str) -> SocketQueue | None:
    """Give the Engine.IO socket ``eio_sid`` a bounded queue (what it queued moves along)."""
    from djira.settings import jira_settings

    socket = server.eio.sockets.get(eio_sid)
    if socket is None:
        return None
    queue = SocketQueue(
        jira_settings.MAX_QUEUED_MESSAGES,
        jira_settings.MAX_QUEUED_BYTES,
        lambda q: overflowed(server, eio_sid, q),
    )
    old = socket.queue
    while not old.empty():  # the OPEN packet: nothing reads the queue before connect returns
        queue.put_nowait(old.get_nowait())
        old.task_done()
    socket.queue = queue
    if type(socket) is AsyncSocket:
        socket.__class__ = DjiraSocket
    if isinstance(socket, DjiraSocket) and server.djira_consumer is not None:
        socket.pace = server.djira_consumer.pace
    return queue


def queue_of(server: DjiraServer, eio_sid: str) -> SocketQueue | None:
    socket = server.eio.sockets.get(eio_sid)
    queue = getattr(socket, "queue", None)
    return queue if isinstance(queue, SocketQueue) else None


def overflowed(server: DjiraServer, eio_sid: str, queue: SocketQueue) -> None:
    """Called (synchronously, from a put) when ``eio_sid``'s queue went past its bound."""
    logger.warning(
        "djira: closing %s, a slow consumer: more than %s messages or %s bytes waited for it",
        eio_sid,
        queue.max_messages,
        queue.max_bytes,
    )
    task = asyncio.get_running_loop().create_task(close(server, eio_sid, SLOW_CONSUMER, queue))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()


def _detail(queue: SocketQueue) -> str:
    return (
        "The server stopped sending to this connection: it did not read fast enough "
        f"(at most {queue.max_messages} messages or {queue.max_bytes} bytes may wait). "
        "Reconnect and resubscribe with `since` to catch up."
    )


async def close(server: DjiraServer, eio_sid: str, reason: str, queue: SocketQueue) -> None:
    """Drop what waits for ``eio_sid``, send it ``djira:disconnect``, close its transport.

    A coroutine. Disconnect handlers run with ``reason``.
    """
    socket = server.eio.sockets.get(eio_sid)
    queue.drop_messages()
    if socket is None or socket.closed or socket.closing:
        return
    # An envelope (protocol.md), so djira's client hands it to ``client.on(DISCONNECT_EVENT)``.
    payload = {
        "status": 503,
        "event": DISCONNECT_EVENT,
        "namespace": None,
        "action": None,
        "data": {"reason": reason, "detail": _detail(queue), "reconnect": True},
    }
    pkt = server.packet_class(sio_packet.EVENT, namespace="/", data=[DISCONNECT_EVENT, payload])
    encoded = pkt.encode()
    if isinstance(encoded, str):
        queue.force_put(eio_packet.Packet(_MESSAGE, encoded))
    try:
        # No Engine.IO CLOSE packet: python-socketio's client would take it for a final
        # disconnect and not reconnect. The transport closes once the writer is done.
        await socket.close(wait=False, abort=True, reason=reason)
    finally:
        queue.stop()  # the writer sends the last event, then closes the websocket
        server.eio.sockets.pop(eio_sid, None)
