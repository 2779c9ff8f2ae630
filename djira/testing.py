"""Testing helpers for djira projects: a live uvicorn server and a communicator client.

    async def test_me(live_server):
        async with SocketCommunicator(live_server.url, token=token.key) as client:
            reply = await client.request("users", namespace="me")
            assert reply["status"] == 200

``SocketCommunicator`` is a thin wrapper over python-socketio's ``AsyncClient`` (install
``aiohttp``), with short timeouts and assertion messages that say what was awaited.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import socketio


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """Runs an ASGI app under uvicorn in a subprocess (``live_server`` is WSGI-only).

    :param app: uvicorn import string, e.g. ``"mysite.asgi:application"``.
    :param env: extra environment variables (``DJANGO_SETTINGS_MODULE``, database path...).
    """

    def __init__(
        self,
        app: str,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        cwd: str | None = None,
        startup_timeout: float = 20.0,
        log_path: str | None = None,
    ) -> None:
        self.app = app
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The uvicorn command line (override to add options or a wrapper)."""
        command = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1"]
        return command + ["--port", str(self.port), "--log-level", "warning", "--lifespan", "off"]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> LiveServer:
        """Start uvicorn and wait until it listens (no-op if already running)."""
        if self.running:
            return self
        command = self.command()
        output = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        self.process = subprocess.Popen(
            command, env=self.env, cwd=self.cwd, stdout=output, stderr=output
        )
        if output is not None:
            output.close()  # the child holds its own descriptor
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode} for {self.app}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"uvicorn did not listen on {self.port} within {self.startup_timeout}s")

    def read_log(self) -> str:
        """What the server wrote to stdout/stderr so far (needs ``log_path``)."""
        assert self.log_path, "LiveServer(log_path=...) keeps the server's output"
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LiveServer:
        return self.start()  # a server already started is used as it is

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ConnectionRefused(AssertionError):
    """The server refused the connection; ``data`` is its ``connect_error`` payload."""

    def __init__(self, data: Any) -> None:
        super().__init__(f"connection refused: {data!r}")
        self.data = data
        self.status = data.get("status") if isinstance(data, dict) else None


class SocketCommunicator:
    """A djira client for tests, in the spirit of Channels' ``WebsocketCommunicator``.

    :param url: the server's base URL.
    :param token: a DRF authtoken key sent as ``auth.token``.
    :param auth: the whole Socket.IO ``auth`` object (overrides ``token``).
    :param headers: handshake HTTP headers (e.g. ``Cookie`` for session authentication).
    :param timeout: seconds any single await may take before the test fails.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        auth: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        transports: list[str] | None = None,
    ) -> None:
        self.url = url
        self.auth = auth if auth is not None else ({"token": token} if token else None)
        self.headers = headers or {}
        self.timeout = timeout
        self.transports = transports or ["websocket"]
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._refused: asyncio.Future[Any] | None = None
        self._counter = 0
        self.client.on("*", self._on_event)
        self.client.on("connect_error", self._on_connect_error)

    async def _on_event(self, event: str, *args: Any) -> None:
        await self.events.put((event, args[0] if len(args) == 1 else list(args)))

    async def _on_connect_error(self, data: Any) -> None:
        if self._refused is not None and not self._refused.done():
            self._refused.set_result(data)

    @property
    def sid(self) -> str | None:
        return self.client.get_sid()

    async def connect(self) -> SocketCommunicator:
        """Connect; raise ``ConnectionRefused`` (with ``.status``) if the server refuses."""
        self._refused = asyncio.get_running_loop().create_future()
        try:
            await self.client.connect(
                self.url,
                auth=self.auth,
                headers=self.headers,
                transports=self.transports,
                wait_timeout=self.timeout,
            )
        except socketio.exceptions.ConnectionError as exc:
            data = self._refused.result() if self._refused.done() else str(exc)
            raise ConnectionRefused(data) from None
        return self

    async def request(
        self,
        hook: str,
        *,
        namespace: str | None = None,
        action: str = "GET",
        pk: Any = None,
        data: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        request_id: str | int | None = None,
        ack: bool = True,
    ) -> dict[str, Any]:
        """Send one request and return its reply envelope.

        :param ack: ask for a Socket.IO acknowledgement (default); with ``False`` the reply
            is awaited as an event carrying this request's ``requestId``.
        """
        if request_id is None:
            self._counter += 1
            request_id = f"t{self._counter}"
        payload: dict[str, Any] = {"action": action, "requestId": request_id}
        for key, value in (
            ("namespace", namespace),
            ("pk", pk),
            ("data", data),
            ("query", query),
            ("headers", headers),
        ):
            if value is not None:
                payload[key] = value
        return await self.send(hook, payload, ack=ack, request_id=request_id)

    async def send(
        self, hook: str, payload: Any, *, ack: bool = True, request_id: Any = None
    ) -> dict[str, Any]:
        """Emit a raw ``payload`` (any JSON, for malformed-input tests) and return the reply."""
        if ack:
            try:
                reply: dict[str, Any] = await self.client.call(hook, payload, timeout=self.timeout)
            except socketio.exceptions.TimeoutError:
                raise AssertionError(
                    f"no reply to {hook!r} {payload!r} in {self.timeout}s"
                ) from None
            return reply
        await self.client.emit(hook, payload)
        return await self.receive(
            hook,
            match=lambda reply: isinstance(reply, dict) and reply.get("requestId") == request_id,
        )

    async def emit(self, event: str, payload: Any = None) -> None:
        """Emit without waiting for anything."""
        await self.client.emit(event, payload)

    async def receive(
        self,
        event: str | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - Channels' communicator API
        match: Any = None,
    ) -> Any:
        """The next event (on ``event`` if given, passing ``match`` if given); others are kept."""
        deadline = asyncio.get_running_loop().time() + (timeout or self.timeout)
        skipped: list[tuple[str, Any]] = []
        try:
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise AssertionError(
                        f"no {event or 'event'} received in {timeout or self.timeout}s"
                    )
                try:
                    name, data = await asyncio.wait_for(self.events.get(), remaining)
                except TimeoutError:
                    continue
                if (event is None or name == event) and (match is None or match(data)):
                    return data
                skipped.append((name, data))
        finally:
            for item in skipped:
                self.events.put_nowait(item)

    async def receive_nothing(
        self,
        timeout: float = 0.2,  # noqa: ASYNC109 - Channels' communicator API
        event: str | None = None,
    ) -> bool:
        """True if no event (on ``event``) arrives within ``timeout`` seconds."""
        try:
            await self.receive(event, timeout=timeout)
        except AssertionError:
            return True
        return False

    async def disconnect(self) -> None:
        if self.client.connected:
            await self.client.disconnect()

    async def __aenter__(self) -> SocketCommunicator:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()
