"""Communicators: test clients that speak djira's protocol, in the spirit of Channels'
``WebsocketCommunicator``.

``BaseCommunicator`` holds the request and receive logic; ``SocketCommunicator`` talks to a
live server through python-socketio's ``AsyncClient`` and ``InProcessCommunicator``
(djira.testing.inprocess) drives an ASGI application in the test's own event loop.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, Self

import socketio


class ConnectionRefused(AssertionError):
    """The server refused the connection; ``data`` is its ``connect_error`` payload."""

    def __init__(self, data: Any) -> None:
        super().__init__(f"connection refused: {data!r}")
        self.data = data
        self.status = data.get("status") if isinstance(data, dict) else None


def handshake_auth(token: str | None, auth: Any) -> Any:
    """The Socket.IO ``auth`` object: ``auth`` as given, else ``{"token": token}``."""
    return auth if auth is not None else ({"token": token} if token else None)


class BaseCommunicator(ABC):
    """Requests, replies and pushes over one connection; subclasses provide the transport.

    Every await is bounded by ``timeout`` seconds and fails with an assertion that says
    what was awaited.
    """

    def __init__(self, *, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._counter = 0

    # -- transport ------------------------------------------------------------------------

    @property
    @abstractmethod
    def sid(self) -> str | None:
        """The Socket.IO session id once connected."""

    @abstractmethod
    async def connect(self) -> Self:
        """Connect; raise ``ConnectionRefused`` (with ``.status``) if the server refuses."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Close the connection (no-op when closed)."""

    @abstractmethod
    async def _call(self, event: str, payload: Any) -> Any:
        """Emit asking for an acknowledgement; its argument, or ``TimeoutError``."""

    @abstractmethod
    async def _emit(self, event: str, payload: Any) -> None:
        """Emit without an acknowledgement."""

    # -- protocol -------------------------------------------------------------------------

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
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its reply envelope (a coroutine).

        :param ack: ask for a Socket.IO acknowledgement (default); with ``False`` the reply
            is awaited as an event carrying this request's ``requestId``.
        :param idempotency_key: sent as ``idempotencyKey``: a write repeating it gets the
            first one's reply (docs/client.md, "Idempotent requests").
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
            ("idempotencyKey", idempotency_key),
        ):
            if value is not None:
                payload[key] = value
        return await self.send(hook, payload, ack=ack, request_id=request_id)

    async def send(
        self, hook: str, payload: Any, *, ack: bool = True, request_id: Any = None
    ) -> dict[str, Any]:
        """Emit a raw ``payload`` (any JSON, for malformed-input tests); return the reply."""
        if ack:
            try:
                reply: dict[str, Any] = await self._call(hook, payload)
            except TimeoutError:
                raise AssertionError(
                    f"no reply to {hook!r} {payload!r} in {self.timeout}s"
                ) from None
            return reply
        await self._emit(hook, payload)
        return await self.receive(
            hook,
            match=lambda reply: isinstance(reply, dict) and reply.get("requestId") == request_id,
        )

    async def emit(self, event: str, payload: Any = None) -> None:
        """Emit without waiting for anything."""
        await self._emit(event, payload)

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

    async def __aenter__(self) -> Self:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()


class SocketCommunicator(BaseCommunicator):
    """A client of a live server (``LiveServer``), over python-socketio's ``AsyncClient``.

    :param url: the server's base URL.
    :param token: a DRF authtoken key sent as ``auth.token``.
    :param auth: the whole Socket.IO ``auth`` object (overrides ``token``).
    :param headers: handshake HTTP headers (e.g. ``Cookie`` for session authentication).
    :param timeout: seconds any single await may take before the test fails.
    :param transports: python-socketio's transports; default websocket only.
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
        super().__init__(timeout=timeout)
        self.url = url
        self.auth = handshake_auth(token, auth)
        self.headers = headers or {}
        self.transports = transports or ["websocket"]
        self.client = socketio.AsyncClient(reconnection=False)
        self._refused: asyncio.Future[Any] | None = None
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

    async def connect(self) -> Self:
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

    async def _call(self, event: str, payload: Any) -> Any:
        try:
            return await self.client.call(event, payload, timeout=self.timeout)
        except socketio.exceptions.TimeoutError:
            raise TimeoutError from None

    async def _emit(self, event: str, payload: Any) -> None:
        await self.client.emit(event, payload)

    async def disconnect(self) -> None:
        if not self.client.connected:
            return
        try:
            await asyncio.wait_for(self.client.disconnect(), self.timeout)
        except TimeoutError:
            # No close from the server in time (it is busy or gone): stop waiting for it,
            # as every other await here is bounded, rather than hang the test's teardown.
            await self.client.eio.disconnect(abort=True)
