"""The python-socketio server djira runs on.

``DjiraServer`` is an ``AsyncServer`` that tells djira's handlers whether the client asked
for an acknowledgement, refuses client events named like connection events, turns a
malformed frame into one log line and a dropped connection instead of a traceback, and gives
each socket a bounded outgoing queue (djira.delivery.queues).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import socketio
from socketio import packet

from djira import json as djira_json
from djira.delivery.rooms import DjiraAsyncManager
from djira.delivery.state import Delivery
from djira.engine import DjiraEngineServer
from djira.session_ids import session_id
from djira.types import Reply, is_id

if TYPE_CHECKING:
    from djira.consumer import Consumer

logger = logging.getLogger("djira")

# True while a handler runs for an event whose client asked for an acknowledgement.
ack_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("djira_ack", default=False)

# Events a client may not emit: python-socketio would route them to the connection handlers.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})


class DjiraPacket(packet.Packet):
    """Socket.IO packet encoded with DRF's JSON encoder."""

    json = djira_json


class DjiraServer(socketio.AsyncServer):
    """``socketio.AsyncServer`` with the few hooks djira's dispatch path needs.

    The overridden methods are private in python-socketio, so pyproject pins its version
    range and ``tests/test_server.py`` fails if their behaviour changes:

    - ``_handle_eio_connect``: python-engineio has created the socket (``eio.sockets[eio_sid]``,
      its queue holding the OPEN packet) and nothing reads its queue yet: the one moment to
      swap in a bounded queue (no public hook creates a socket's queue with its sid).
    - ``_handle_event_internal``: whether the client asked for an acknowledgement.
    - ``_handle_eio_message``: a malformed frame.
    - ``_engineio_server_class``: python-engineio's server, with djira's ping check and
      request environ (djira.engine).

    Pushes bypass ``AsyncManager.emit`` (a task per recipient): djira.delivery.local puts
    one encoded packet on each member's ``eio.sockets[eio_sid].queue``, python-engineio's
    per-socket queue, which has no public API either.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", DjiraPacket)
        kwargs.setdefault("async_mode", "asgi")
        # python-socketio's AsyncManager, with each socket's rooms indexed (a disconnect
        # leaves its rooms without scanning every connection's: djira.delivery.rooms).
        if kwargs.get("client_manager") is None:
            kwargs["client_manager"] = DjiraAsyncManager()
        super().__init__(*args, **kwargs)
        # Session ids without a system call each (djira.session_ids): used by python-engineio
        # for its sessions and by python-socketio's manager for namespaces.
        self.eio.generate_id = partial(session_id, self.eio)
        # Captured on the first connection: signal handlers running in other threads hand
        # their emits to this loop.
        self.loop: asyncio.AbstractEventLoop | None = None
        # The djira.consumer.Consumer whose hooks this server routes to (set by Consumer).
        self.djira_consumer: Consumer | None = None
        # Outbox, addresses, history, presence and the backend's reader (djira.delivery).
        self.delivery = Delivery()

    def _engineio_server_class(self) -> type[DjiraEngineServer]:
        # Its ping check holds no socket between its steps (djira.engine).
        return DjiraEngineServer

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        from djira.delivery.backends import get_backend
        from djira.delivery.heartbeat import ensure_heartbeat

        get_backend().connected(self)
        ensure_heartbeat(self)
        from djira.delivery.queues import install

        install(self, eio_sid)
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str, id: Any
    ) -> None:
        event = data[0] if data else None
        if not isinstance(event, str) or event in RESERVED_EVENTS:
            # Never routed: python-socketio would hand a client's "connect" to the connection
            # handler. A request that asked for an ack still gets its one (400) reply.
            if id is None:
                logger.warning("Dropped a reserved or nameless event from %s", sid)
                return
            reply = reserved_event_reply(event, data[1] if len(data) > 1 else None)
            await server._send_packet(
                eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=id, data=[reply])
            )
            return
        ack_requested.set(id is not None)
        await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            # One line per offending connection, then drop it: a flood of bad frames must
            # not become a flood of tracebacks.
            logger.warning("Malformed Socket.IO frame from %s (%s); closing it", eio_sid, exc)
            await self.eio.disconnect(eio_sid)


def reserved_event_reply(event: Any, payload: Any) -> djira_json.Encoded:
    """The 400 reply to a client event that is nameless or named like a connection event."""
    request_id = payload.get("requestId") if isinstance(payload, dict) else None
    if isinstance(event, str):
        detail = f"'{event}' is a reserved Socket.IO event name; a client cannot emit it."
    else:
        detail = "A request needs an event name (a string)."
    reply: Reply = {
        "status": 400,
        "event": event if isinstance(event, str) else "",
        "namespace": None,
        "action": None,
        "requestId": request_id if is_id(request_id) else None,
        "data": {"detail": detail},
    }
    return djira_json.encode(reply)


def create_server(**overrides: Any) -> DjiraServer:
    """Build a ``DjiraServer`` configured from ``DJIRA_SETTINGS``.

    :param overrides: extra ``AsyncServer`` keyword arguments, taking precedence.
    """
    from djira.settings import jira_settings

    options: dict[str, Any] = {
        "cors_allowed_origins": jira_settings.CORS_ALLOWED_ORIGINS,
        "max_http_buffer_size": jira_settings.MAX_PAYLOAD_SIZE,
    }
    if jira_settings.REDIS_URL:
        # AsyncRedisManager that logs Redis faults clearly on "djira.redis" (observers).
        from djira.delivery.redis_clients import manager_url
        from djira.delivery.redis_manager import DjiraAsyncRedisManager

        options["client_manager"] = DjiraAsyncRedisManager(manager_url(jira_settings.REDIS_URL))
    if options["cors_allowed_origins"] is None:
        options.pop("cors_allowed_origins")
    options.update(overrides)
    return DjiraServer(**options)


@lru_cache(maxsize=1)
def get_default_server() -> DjiraServer:
    """The process's server when ``SOCKET_INSTANCE`` is not set (created once, on first use)."""
    return create_server()


def emit_soon(server: DjiraServer, event: str, data: Any, **kwargs: Any) -> None:
    """Emit without waiting, from the server's loop or from any other thread.

    Takes python-socketio's ``emit`` arguments (``to``, ``room``, ``skip_sid``,
    ``namespace``, ``ignore_queue``); anything else is a ``TypeError``. The emit goes through
    djira's ordered outbox (djira.delivery.outbox), like observers' pushes: after the
    current transaction commits when one is open in this thread, at once otherwise; to
    this process's sockets, and to the other processes' through ``REDIS_URL``; recorded in
    the server's traffic.
    """
    from djira.delivery.outbox import emit

    emit(event, data, server=server, **kwargs)
