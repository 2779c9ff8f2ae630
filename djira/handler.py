"""The request path, top to bottom: one client emit in, exactly one reply out.

``handle_event`` is the server's only event handler (python-socketio's ``*`` catch-all):

1. the payload is validated into a ``Scope`` (400 on bad input);
2. the middleware chain runs, around ``run_hook``, which finds the hook by event name and
   runs it (``APIHook.run``: route, permissions, throttles, body, in one worker-thread unit);
3. the reply envelope is built and encoded once — a value that cannot be encoded becomes a
   500 here, not an error inside python-socketio after the fact;
4. the lifecycle listeners hear of the request (what they record is what the client got);
5. the reply goes back as the acknowledgement, or, if none was asked for, is emitted on the
   event name to the requesting socket only.

A connection with ``MAX_REQUESTS_IN_FLIGHT`` requests not yet answered gets a 429 reply at
once for the next one (``refuse_request``), through steps 3 to 5 like any other reply.
Nothing here raises: every failure becomes an error envelope.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Model

from djira import exceptions, idempotency
from djira import json as djira_json
from djira.idempotency import MAX_KEY_LENGTH
from djira.response import Response
from djira.scope import Scope
from djira.server import ack_requested
from djira.settings import jira_settings
from djira.sync import current_sid
from djira.trace import current_trace
from djira.types import ACTIONS, Reply, is_id

if TYPE_CHECKING:
    from djira.consumer import Consumer

logger = logging.getLogger("djira")

_SCALARS = (str, int, float, bool, type(None))

# Connection-level facts a client must not be able to claim per request: throttles and
# anything else reading ``scope.headers`` the way DRF reads ``request.headers`` would
# otherwise trust them (the real ones are in ``scope.META``, from the handshake).
_CONNECTION_HEADERS = frozenset({"x-forwarded-for", "x-real-ip", "forwarded", "remote-addr"})


def _field_error(name: str, expected: str) -> exceptions.ParseError:
    return exceptions.ParseError(f"Field '{name}' must be {expected}.")


def request_user(user: Any) -> Any:
    """This request's own copy of the connection's user, without permission caches.

    Django caches permissions on the user instance (``_perm_cache``...). One connection's
    requests may run at once on several worker threads: sharing the instance would let one
    request drop a cache another is reading, and a copy starting empty makes a permission
    granted or revoked count from the next request, as over HTTP.
    """
    if not isinstance(user, Model):
        return user  # AnonymousUser and other stateless users
    own = copy.copy(user)
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        own.__dict__.pop(attr, None)
    return own


def parse_request(scope: Scope, payload: Any) -> None:
    """Validate a request payload and copy its fields onto ``scope`` (400 on bad input)."""
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise exceptions.ParseError("A request must be a JSON object.")
    request_id = payload.get("requestId")
    if request_id is not None and not is_id(request_id):
        raise _field_error("requestId", "a string or an integer")
    scope.request_id = request_id
    key = payload.get("idempotencyKey")
    if key is not None and not (isinstance(key, str) and 0 < len(key) <= MAX_KEY_LENGTH):
        raise _field_error("idempotencyKey", f"a string of 1 to {MAX_KEY_LENGTH} characters")
    scope.idempotency_key = key
    namespace = payload.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise _field_error("namespace", "a non-empty string")
    scope.namespace = namespace
    action = payload.get("action", "GET")
    if not isinstance(action, str) or action.upper() not in ACTIONS:
        raise _field_error("action", "one of " + ", ".join(ACTIONS))
    scope.action = action.upper()
    pk = payload.get("pk")
    if pk is not None and not is_id(pk):
        raise _field_error("pk", "a string or an integer")
    scope.pk = pk
    query = payload.get("query")
    if query is not None:
        if not isinstance(query, dict) or not all(
            isinstance(v, _SCALARS)
            or (isinstance(v, list) and all(isinstance(i, _SCALARS) for i in v))
            for v in query.values()
        ):
            raise _field_error("query", "an object of scalars or lists of scalars")
        scope.set_query(query)
    headers = payload.get("headers")
    if headers is not None and not isinstance(headers, dict):
        raise _field_error("headers", "an object")
    if headers:
        headers = {k: v for k, v in headers.items() if str(k).lower() not in _CONNECTION_HEADERS}
    scope.headers = headers or {}
    scope.data = payload.get("data")
    scope.since = payload.get("since")  # read by the subscription (observers.history)


def exception_response(exc: BaseException, scope: Scope) -> Response:
    """The error reply for an exception: DRF's detail, or an opaque 500 (logged)."""
    api_exc = exceptions.as_api_exception(exc) if isinstance(exc, Exception) else None
    if api_exc is not None:
        return Response(exceptions.get_error_data(api_exc), api_exc.status_code)
    logger.error("Unhandled error in %r", scope, exc_info=exc)
    data: dict[str, Any] = {"detail": "A server error occurred."}
    if settings.DEBUG:
        data["exception"] = f"{type(exc).__name__}: {exc}"
    return Response(data, 500)


def envelope(scope: Scope, response: Response) -> Reply:
    reply: Reply = {
        "status": response.status,
        "event": scope.event,
        "namespace": scope.namespace,
        "action": scope.action,
        "requestId": scope.request_id,
        "data": response.data,
    }
    if response.status < 400:
        # A subscription's rooms' streams (observers.history), whatever the body returned.
        if scope.positions is not None:
            reply["positions"] = scope.positions
        if scope.recovered is not None:
            reply["recovered"] = scope.recovered
    if scope.replayed:
        reply["replayed"] = True
    return reply


async def run_hook(consumer: Consumer, scope: Scope) -> Response:
    """The innermost handler of the middleware chain: find the hook and run it."""
    hook_class = consumer.hooks.get(scope.event)
    try:
        if hook_class is None:
            raise exceptions.UnknownHook(f"Unknown hook '{scope.event}'.")
        return await hook_class(scope, consumer.sio).run()
    except Exception as exc:
        return exception_response(exc, scope)


def encode_reply(scope: Scope, reply: Reply) -> djira_json.Encoded:
    """Encode ``reply`` once; what cannot be encoded becomes a logged 500 reply."""
    try:
        return djira_json.encode(reply)
    except (TypeError, ValueError) as exc:
        response = exception_response(exc, scope)
        reply.update(envelope(scope, response))
        return djira_json.encode(reply)


async def handle_request(
    consumer: Consumer, event: str, sid: str, payload: Any
) -> tuple[Scope, Reply]:
    """Answer one request: its scope and reply envelope; never raises. A coroutine."""
    session = await consumer.sio.get_session(sid)
    scope = Scope(
        sid=sid,
        event=event,
        user=request_user(session.get("user")),
        auth=session.get("auth"),
        environ=session.get("environ"),
        server=consumer.sio,
    )
    if consumer.monitor.listeners:
        scope.trace = consumer.monitor.start_trace()
        if scope.trace is not None:
            current_trace.set(scope.trace)  # copied into the worker thread's context
    # The request's sync work (its hook's, its observers', its middleware's) waits in this
    # connection's lane (djira.sync), served in turn with other connections'.
    token = current_sid.set(sid)
    try:
        parse_request(scope, payload)
        # A repeated idempotency key gets its kept reply, without the chain running.
        response = await idempotency.respond(scope, consumer.handler)
    except Exception as exc:
        response = exception_response(exc, scope)
    finally:
        current_sid.reset(token)
    return scope, envelope(scope, response)


async def refuse_request(
    consumer: Consumer, event: str, sid: str, payload: Any
) -> tuple[Scope, Reply]:
    """The 429 reply to a request past ``MAX_REQUESTS_IN_FLIGHT``; never raises. A coroutine.

    Nothing of the request runs (no middleware, no hook): its envelope's fields are read
    only to echo them (a malformed one still gets its 429), so that the client can match
    the reply, and the console can count it against the connection. An unknown hook or
    namespace still gets its 404: the console keys what it counts by hook and namespace,
    and must not keep names a client made up (it files 404s under one key).
    """
    session = await consumer.sio.get_session(sid)
    scope = Scope(sid=sid, event=event, user=session.get("user"), server=consumer.sio)
    with contextlib.suppress(exceptions.ParseError):
        parse_request(scope, payload)
    hook_class = consumer.hooks.get(event)
    error: exceptions.APIException
    if hook_class is None:
        error = exceptions.UnknownHook(f"Unknown hook '{event}'.")
    elif scope.namespace is not None and scope.namespace not in hook_class.get_routes():
        error = exceptions.UnknownNamespace(f"Unknown namespace '{scope.namespace}' on '{event}'.")
    else:
        error = exceptions.TooManyRequestsInFlight(jira_settings.MAX_REQUESTS_IN_FLIGHT)
    return scope, envelope(scope, exception_response(error, scope))


class InFlight:
    """One connection's requests not answered yet, kept on the consumer while it has some."""

    __slots__ = ("count", "refused", "freed")

    def __init__(self) -> None:
        self.count = 0
        # 429s since the connection last had nothing in flight. Past a cap's worth its
        # reader waits for a free slot (``pace``) instead of reading more frames only to
        # refuse them: each refusal costs the event loop that every connection shares.
        self.refused = 0
        # Set by the waiting reader; resolved when one of the requests is answered.
        self.freed: asyncio.Future[None] | None = None

    def release(self) -> None:
        self.count -= 1
        freed = self.freed
        if freed is not None and not freed.done():
            freed.set_result(None)

    async def slot(self) -> None:
        """Until one of the requests is answered. A coroutine (its reader bounds the wait)."""
        self.freed = freed = asyncio.get_running_loop().create_future()
        try:
            await freed
        finally:
            self.freed = None


def pace(consumer: Consumer, eio_sid: str) -> Awaitable[None] | None:
    """What the reader of Engine.IO socket ``eio_sid`` awaits before its next message.

    ``None`` (read on) unless the connection is at its cap and has already been refused a
    cap's worth of requests since it last had none in flight: then a free slot (waited for
    ``PACE_TIMEOUT`` at most, by ``DjiraSocket.receive``), so that a
    flooding client is held back by TCP (its frames wait in the kernel, then in its own
    buffers) at the rate its requests are answered, rather than read and refused as fast as
    it can send. A client that merely bursts past the cap still gets its 429s at once.
    """
    limit = jira_settings.MAX_REQUESTS_IN_FLIGHT
    if limit is None:
        return None
    sid = consumer.sio.manager.sid_from_eio_sid(eio_sid, "/")
    entry = consumer.in_flight.get(sid) if sid is not None else None
    if entry is None or entry.count < limit or entry.refused < limit:
        return None
    return entry.slot()


async def answer(consumer: Consumer, event: str, sid: str, payload: Any) -> tuple[Scope, Reply]:
    """``handle_request``, or ``refuse_request`` past the connection's cap. A coroutine.

    A request is in flight from its arrival until its reply is built. The count lives on
    the consumer (server instance state), and a connection's entry goes with its last
    request, so a closed connection leaves nothing behind.
    """
    limit = jira_settings.MAX_REQUESTS_IN_FLIGHT
    if limit is None:
        return await handle_request(consumer, event, sid, payload)
    in_flight = consumer.in_flight
    entry = in_flight.get(sid)
    if entry is None:
        entry = in_flight[sid] = InFlight()
    if entry.count >= limit:
        entry.refused += 1
        return await refuse_request(consumer, event, sid, payload)
    entry.count += 1
    try:
        return await handle_request(consumer, event, sid, payload)
    finally:
        entry.release()
        if entry.count == 0 and in_flight.get(sid) is entry:
            del in_flight[sid]


async def handle_event(consumer: Consumer, event: str, sid: str, payload: Any = None) -> Any:
    """The server's handler for every client event: the reply, as an ack or an emit."""
    started = time.perf_counter()
    if consumer.telemetry is not None:  # its span ends in the monitor's ``request`` below
        consumer.telemetry.request_started(event, sid, payload)
    scope, reply = await answer(consumer, event, sid, payload)
    encoded = encode_reply(scope, reply)
    scope.reply_size = len(encoded)
    duration = time.perf_counter() - started
    if scope.trace is not None:
        scope.trace.add("reply", status=reply["status"], ms=round(duration * 1000, 3))
    consumer.monitor.request(scope, reply, duration)
    if scope.hook is not None:
        scope.hook._break_cycles()
    if ack_requested.get():
        return encoded
    # The requester lives on this process: no need to publish through a Redis manager.
    await consumer.sio.emit(event, encoded, to=sid, ignore_queue=True)
    return None
