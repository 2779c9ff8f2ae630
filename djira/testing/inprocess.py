"""``InProcessCommunicator``: drive your ASGI application without a server or a port.

    from mysite.asgi import application

    @pytest.mark.django_db(transaction=True)
    async def test_me(user_token):
        async with InProcessCommunicator(application, token=user_token) as client:
            reply = await client.request("users", namespace="me")
            assert reply["status"] == 200

It speaks Engine.IO and Socket.IO over the ASGI websocket interface, as Channels'
``WebsocketCommunicator`` does for consumers: the application runs in the test's event
loop, and its sync work (ORM, permissions, serializers) in djira's worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Iterator
from typing import Any, Self

from socketio import packet

from djira.testing.communicator import BaseCommunicator, ConnectionRefused, handshake_auth

# Engine.IO v4 packet types (the first character of a websocket text frame).
_EIO_OPEN, _EIO_CLOSE, _EIO_PING, _EIO_PONG, _EIO_MESSAGE = "0", "1", "2", "3", "4"


def djira_servers(application: Any) -> Iterator[Any]:
    """The ``DjiraServer`` instances inside ``application`` and ``SOCKET_INSTANCE``."""
    from djira.server import DjiraServer
    from djira.settings import jira_settings

    seen: set[int] = set()
    pending = [application, jira_settings.SOCKET_INSTANCE]
    while pending:
        app = pending.pop()
        if app is None or id(app) in seen:
            continue
        seen.add(id(app))
        if isinstance(app, DjiraServer):
            yield app
            continue
        # FrameGuard.app, socketio.ASGIApp.engineio_server and .other_asgi_app, Django's
        # static files handler's .application.
        for name in ("app", "engineio_server", "other_asgi_app", "application"):
            pending.append(getattr(app, name, None))


def bind_to_running_loop(server: Any) -> None:
    """Let ``server`` deliver pushes on the running loop.

    A server keeps the loop of its first connection, for the emits other threads hand it
    (observers' pushes). pytest-asyncio gives each test its own loop: a server first used
    by an earlier test would hand them to a closed loop, so they move to this one.
    """
    loop = asyncio.get_running_loop()
    if server.loop is not loop:
        server.loop = loop
        server.delivery.outbox = None  # its queue and task belong to the old loop


class InProcessCommunicator(BaseCommunicator):
    """A djira client that calls an ASGI application directly (same process, same loop).

    :param application: the ASGI application, e.g. ``mysite.asgi.application``.
    :param token: a DRF authtoken key sent as ``auth.token``.
    :param auth: the whole Socket.IO ``auth`` object (overrides ``token``).
    :param headers: handshake HTTP headers (e.g. ``Cookie`` for session authentication).
    :param timeout: seconds any single await may take before the test fails.
    :param path: the Socket.IO endpoint (``SOCKETIO_PATH``).
    :param client: the peer address the application sees.

    Use transactional tests (``django_db(transaction=True)``): requests run in worker
    threads with their own database connections, which do not see a test's uncommitted rows.
    """

    def __init__(
        self,
        application: Any,
        *,
        token: str | None = None,
        auth: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        path: str = "/socket.io/",
        client: tuple[str, int] = ("127.0.0.1", 50000),
    ) -> None:
        super().__init__(timeout=timeout)
        self.application = application
        self.auth = handshake_auth(token, auth)
        # What a browser's websocket handshake carries (Engine.IO checks the upgrade).
        self.headers = {
            "host": "testserver",
            "connection": "Upgrade",
            "upgrade": "websocket",
            "sec-websocket-version": "13",
            **{name.lower(): value for name, value in (headers or {}).items()},
        }
        self.path = "/" + path.strip("/") + "/"
        self.client = client
        self.connected = False
        self._sid: str | None = None
        self._ids = itertools.count()
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._app_task: asyncio.Task[Any] | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def sid(self) -> str | None:
        return self._sid

    def scope(self) -> dict[str, Any]:
        """The ASGI websocket scope of the handshake."""
        return {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"EIO=4&transport=websocket",
            "root_path": "",
            "headers": [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in self.headers.items()
            ],
            "client": self.client,
            "server": ("testserver", 80),
            "subprotocols": [],
        }

    async def connect(self) -> Self:
        for server in djira_servers(self.application):
            bind_to_running_loop(server)
        self._app_task = asyncio.create_task(
            self.application(self.scope(), self._to_app.get, self._from_app.put)
        )
        await self._to_app.put({"type": "websocket.connect"})
        accepted = await self._next_message()
        if accepted["type"] != "websocket.accept":
            raise ConnectionRefused(f"websocket not accepted: {accepted!r}")
        opened = await self._next_frame()
        assert opened.startswith(_EIO_OPEN), f"expected Engine.IO open, got {opened!r}"
        connect = "0" + (json.dumps(self.auth) if self.auth is not None else "")
        await self._send_frame(_EIO_MESSAGE + connect)
        while True:
            frame = await self._next_frame()
            if not frame.startswith(_EIO_MESSAGE):
                continue  # a ping before the answer: answered below once connected
            answer = packet.Packet(encoded_packet=frame[1:])
            if answer.packet_type == packet.CONNECT:
                self._sid = answer.data["sid"]
                break
            if answer.packet_type == packet.CONNECT_ERROR:
                await self._close()
                raise ConnectionRefused(answer.data)
        self.connected = True
        self._reader = asyncio.create_task(self._read())
        return self

    async def _call(self, event: str, payload: Any) -> Any:
        ack_id = next(self._ids)
        future = self._acks[ack_id] = asyncio.get_running_loop().create_future()
        await self._send_packet(packet.Packet(packet.EVENT, data=[event, payload], id=ack_id))
        try:
            data = await asyncio.wait_for(future, self.timeout)
        finally:
            self._acks.pop(ack_id, None)
        return data[0] if len(data) == 1 else data

    async def _emit(self, event: str, payload: Any) -> None:
        await self._send_packet(packet.Packet(packet.EVENT, data=[event, payload]))

    async def disconnect(self) -> None:
        if not self.connected:
            return
        self.connected = False
        with contextlib.suppress(Exception):
            await self._send_frame(_EIO_MESSAGE + "1")  # Socket.IO disconnect
        await self._close()

    # -- frames ---------------------------------------------------------------------------

    async def _close(self) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        if self._app_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._app_task), self.timeout)
            except TimeoutError:
                self._app_task.cancel()
            except Exception:
                pass  # the application's own error, raised to the test where it happened
        # The reader waits for frames a finished application will never send.
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _send_packet(self, message: packet.Packet) -> None:
        encoded = message.encode()
        assert isinstance(encoded, str), "binary attachments are not supported here"
        await self._send_frame(_EIO_MESSAGE + encoded)

    async def _send_frame(self, text: str) -> None:
        if self._app_task is not None and self._app_task.done():
            raise AssertionError("the application has closed the connection")
        await self._to_app.put({"type": "websocket.receive", "text": text})

    async def _next_message(self) -> dict[str, Any]:
        """The application's next ASGI message; its exception if it failed."""
        assert self._app_task is not None, "connect() first"
        getter = asyncio.ensure_future(self._from_app.get())
        done, _ = await asyncio.wait(
            {getter, self._app_task}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self._app_task in done:
            self._app_task.result()  # raises the application's exception, if any
            return {"type": "websocket.close"}
        raise AssertionError(f"the application sent nothing in {self.timeout}s")

    async def _next_frame(self) -> str:
        message = await self._next_message()
        if message["type"] == "websocket.close":
            raise ConnectionRefused(f"closed by the application: {message!r}")
        text = message.get("text")
        assert isinstance(text, str), f"expected a text frame, got {message!r}"
        return text

    async def _read(self) -> None:
        """Route the application's frames: pongs, acks, events, disconnection."""
        try:
            while True:
                message = await self._from_app.get()
                text = message.get("text") if message["type"] == "websocket.send" else None
                if text is None:
                    break  # websocket.close
                if text.startswith(_EIO_PING):
                    await self._send_frame(_EIO_PONG + text[1:])
                elif text.startswith(_EIO_CLOSE):
                    break
                elif text.startswith(_EIO_MESSAGE):
                    self._dispatch(packet.Packet(encoded_packet=text[1:]))
        finally:
            self.connected = False
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(AssertionError("disconnected before the reply"))

    def _dispatch(self, message: packet.Packet) -> None:
        if message.packet_type == packet.ACK:
            future = self._acks.get(message.id)
            if future is not None and not future.done():
                future.set_result(message.data)
        elif message.packet_type == packet.EVENT:
            event, *args = message.data
            self.events.put_nowait((event, args[0] if len(args) == 1 else args))
        elif message.packet_type == packet.DISCONNECT:
            self.connected = False
