"""``Consumer``: registers hooks under event names and wires them to a python-socketio server.

consumer = Consumer(jira_settings.SOCKET_INSTANCE)
consumer.register("users", UserAPIHook)
consumer.start()
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from functools import lru_cache
from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from socketio.exceptions import ConnectionRefusedError

from djira.authentication import finds_no_credential
from djira.base import LOOP_SAFE_PERMISSIONS, APIHook
from djira.handler import InFlight, handle_event, pace, run_hook
from djira.lifecycle import Monitor
from djira.middleware import Handler, build_chain
from djira.permissions import check
from djira.scope import Scope
from djira.server import RESERVED_EVENTS, DjiraServer
from djira.settings import jira_settings
from djira.sync import run_sync
from djira.telemetry import attach as attach_telemetry

logger = logging.getLogger("djira")


def refuse(message: str, status: int) -> ConnectionRefusedError:
    """A refusal whose ``connect_error`` data is ``{"message", "status"}`` (PROTOCOL.md)."""
    error = ConnectionRefusedError(message)
    # socket.io-client exposes only ``message`` and ``data`` of a refusal: repeat the
    # fields under ``data`` so every client sees the status.
    details = {"message": message, "status": status}
    error.error_args = {**details, "data": details}
    return error


class Consumer:
    """The hooks served by one Socket.IO server, and its connection handlers.

    State lives on the instance and in Socket.IO sessions, so two consumers on two
    servers in one process never see each other's connections.
    """

    def __init__(self, sio: DjiraServer | None = None) -> None:
        self.sio: DjiraServer = sio if sio is not None else jira_settings.SOCKET_INSTANCE
        assert isinstance(self.sio, DjiraServer), (
            "Consumer needs a djira.server.DjiraServer (build one with "
            "djira.server.create_server()); a plain AsyncServer cannot tell acks apart."
        )
        self.hooks: dict[str, type[APIHook]] = {}
        self.monitor = Monitor()
        # Prometheus metrics and OpenTelemetry spans, when configured (djira.telemetry).
        self.telemetry = attach_telemetry(self)
        # Requests of each connection not answered yet (djira.handler.answer): a
        # connection's entry exists only while it has some.
        self.in_flight: dict[str, InFlight] = {}
        self.started = False
        self._middleware: list[type] | None = None
        self._chain: Handler | None = None
        self.sio.djira_consumer = self

    # -- registration ---------------------------------------------------------------------

    def register(self, name: str, hook_class: type[APIHook]) -> None:
        """Serve ``hook_class`` on event ``name``; allowed before or after ``start()``."""
        assert isinstance(name, str) and name and name not in RESERVED_EVENTS and name != "*", (
            f"Hook name {name!r} is reserved or empty; choose another event name."
        )
        assert isinstance(hook_class, type) and issubclass(hook_class, APIHook), (
            f"{hook_class!r} should be an APIHook subclass."
        )
        self.hooks[name] = hook_class

    def start(self) -> None:
        """Attach the handlers to the server. Call once, before serving.

        Every client event goes to one catch-all handler, which finds the hook by name
        (djira.handler), so hooks registered after ``start()`` are served too.
        """
        if self.started:
            return
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_event)
        self.started = True

    # -- request path ---------------------------------------------------------------------

    @property
    def handler(self) -> Handler:
        """The middleware chain around the hooks, rebuilt when the setting changes."""
        classes = jira_settings.MIDDLEWARE_CLASSES
        if self._chain is None or classes is not self._middleware:

            async def inner(scope: Scope) -> Any:
                return await run_hook(self, scope)

            self._chain = build_chain(classes, inner)
            self._middleware = classes
        return self._chain

    async def _on_event(self, event: str, sid: str, payload: Any = None, *extra: Any) -> Any:
        return await handle_event(self, event, sid, payload)

    def pace(self, eio_sid: str) -> Awaitable[None] | None:
        """What a socket's reader awaits before its next message (djira.handler.pace)."""
        return pace(self, eio_sid)

    # -- connections ----------------------------------------------------------------------

    def authenticate(self, scope: Scope) -> None:
        """Run authentication, then every ``can_connect``, in one worker-thread hop."""
        for authenticator in jira_settings.AUTHENTICATION_CLASSES:
            result = authenticator().authenticate(scope)
            if result is not None:
                scope.user, scope.auth = result
                break
        for permission in jira_settings.PERMISSION_CLASSES:
            if not check(permission(), "can_connect", scope):
                if scope.user.is_authenticated:
                    raise refuse("You may not connect.", 403)
                raise refuse("Authentication credentials were not provided.", 401)

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        # python-engineio's ASGI driver says 127.0.0.1 for every peer: name the real one
        # (what DRF's throttles and anything else reading REMOTE_ADDR identify clients by).
        # Forwarding headers go once they are read: DRF before 3.18 would otherwise take a
        # client's own X-Forwarded-For as its throttle identity.
        # In place: python-socketio keeps this very dict for the connection's life
        # (``sio.get_environ``), and the session shares it rather than keeping a copy.
        environ["REMOTE_ADDR"] = client_address(environ)
        for key in _FORWARDING_META:
            environ.pop(key, None)
        # The reader of the handshake request's body (djira.environ.RequestBody, holding the
        # ASGI ``receive``) is of no use once the handshake is read.
        environ.pop("wsgi.input", None)
        if self.telemetry is None:
            return await self._accept(sid, environ, auth)
        with self.telemetry.handshake(sid, environ):
            return await self._accept(sid, environ, auth)

    async def _accept(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        """Authenticate the connection and keep its user in the session, or refuse it."""
        scope = Scope(sid=sid, event="connect", action="CONNECT", auth=auth, environ=environ)
        scope.handshake_auth = auth
        scope.server = self.sio
        try:
            if self._connects_on_loop(scope):
                self.authenticate(scope)  # anonymous, read from the handshake alone
            else:
                await run_sync(self.authenticate, scope, sid=sid)
        except AuthenticationFailed as exc:
            raise refuse(str(exc.detail), 401) from None
        except ConnectionRefusedError:
            raise
        except Exception:
            logger.exception("Error while authenticating connection %s", sid)
            raise refuse("Server error while connecting.", 500) from None
        await self.sio.save_session(
            sid, {"user": scope.user, "auth": scope.auth, "environ": environ}
        )
        self.monitor.connected(scope)

    def _connects_on_loop(self, scope: Scope) -> bool:
        """Whether ``authenticate`` may run on the loop: djira's own authentication classes
        find no credential in the handshake, the permissions' ``can_connect`` read only the
        user (``LOOP_SAFE_PERMISSIONS``), and ``authenticate`` is this class's. Anything
        else may query the database, so it takes the thread hop."""
        return (
            type(self).authenticate is Consumer.authenticate
            and finds_no_credential(jira_settings.AUTHENTICATION_CLASSES, scope)
            and all(cls in LOOP_SAFE_PERMISSIONS for cls in jira_settings.PERMISSION_CLASSES)
        )

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        from djira.delivery import presence

        self.monitor.disconnected(sid, reason)
        # Rooms are left by python-socketio itself; presence (and its leave pushes) by us.
        await presence.disconnected(self.sio, sid)


# Handshake headers naming the client through proxies; read by client_address() only.
_FORWARDING_META = frozenset({"HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED"})


def client_address(environ: dict[str, Any]) -> str:
    """The connecting client's address, as Django would see it behind ``NUM_PROXIES`` proxies.

    The ASGI peer address, unless ``NUM_PROXIES`` trusted proxies sit in front: then the
    address the outermost of them saw, from the handshake's ``X-Forwarded-For`` (never
    from anything a client sends later).
    """
    peer = (environ.get("asgi.scope") or {}).get("client") or (environ.get("REMOTE_ADDR"), 0)
    address = str(peer[0] or "")
    proxies = jira_settings.NUM_PROXIES
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if proxies and isinstance(forwarded, str) and forwarded.strip():
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            address = hops[-min(int(proxies), len(hops))]
    return address


def discover_hooks() -> dict[str, type[APIHook]]:
    """Hook classes that declare ``event``, from the installed apps' ``hooks.py`` modules."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("hooks")
    found: dict[str, type[APIHook]] = {}
    pending = list(APIHook.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__dict__.get("event"):
            found[cls.event] = cls  # type: ignore[index]
    return found


@lru_cache(maxsize=1)
def add_discovered_hooks(consumer: Consumer) -> None:
    """Register the discovered hooks on ``consumer``, except names it already serves.

    A hook registered by hand wins over a discovered one of the same name.
    """
    for name, hook_class in discover_hooks().items():
        if name in consumer.hooks:
            if consumer.hooks[name] is not hook_class:
                logger.info(
                    "Event %r: serving %s registered by hand, not the discovered %s",
                    name,
                    consumer.hooks[name].__qualname__,
                    hook_class.__qualname__,
                )
            continue
        consumer.register(name, hook_class)


def get_default_consumer() -> Consumer:
    """The consumer of ``SOCKET_INSTANCE`` with every discovered hook, started once."""
    sio = jira_settings.SOCKET_INSTANCE
    consumer = sio.djira_consumer or Consumer(sio)
    add_discovered_hooks(consumer)
    consumer.start()
    return consumer
