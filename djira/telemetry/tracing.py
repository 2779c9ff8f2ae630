"""OpenTelemetry spans of a djira server: handshakes, requests and the pushes they caused.

Spans go to the tracer provider the project configures (the OpenTelemetry SDK and an
exporter, docs/observability.md); with none, opentelemetry-api's spans record nothing.

- **A request** is a ``SERVER`` span from its arrival to its encoded reply, named
  ``"<hook>/<route> <verb>"`` (``"books/list GET"``) and carrying RPC attributes
  (``rpc.system`` ``djira``, ``rpc.service`` the hook, ``rpc.method`` the route) and
  ``djira.*`` ones: status, sid, request id, user id, payload and reply sizes, never the
  payloads. A W3C ``traceparent`` field in the request makes it a child of the client's
  span. It is the current span while the request runs, in its worker thread too, so a
  project's own instrumentation (Django's database spans, ``requests``...) nests under it.
- **Permission and throttle decisions** and **each SQL query** (its statement, never its
  parameters) become span events, from the request's djira trace (djira.trace): a recording
  span asks for one, like the admin's recorder does. Events rather than child spans: a span
  costs about as much as a small request. For child spans of each query, add
  OpenTelemetry's instrumentation of your database driver: it nests them under the request
  span, which is current in the request's worker thread.
- **A push** is a ``PRODUCER`` span linked to the span that sent it (a request's, or any
  span current where it was saved: a task, a shell), in whichever process delivers it: the
  delivery message carries the sender's ``traceparent`` (djira.delivery.messages). It says
  how many of that process's sockets the push reached.
- **A handshake** is a ``SERVER`` span around authentication and ``can_connect``
  (a ``traceparent`` handshake header makes it a child).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
from collections.abc import Mapping
from contextvars import Token
from typing import TYPE_CHECKING, Any, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from djira.telemetry import labels, transport_of
from djira.telemetry.context import delivered_message

if TYPE_CHECKING:
    from djira.consumer import Consumer
    from djira.scope import Scope

# W3C trace context: "00-<32 hex>-<16 hex>-<2 hex>" is 55 characters; later versions may
# append fields. Anything longer is not parsed at all.
MAX_TRACEPARENT = 256

_propagator = TraceContextTextMapPropagator()


class _Open(NamedTuple):
    span: Span
    token: Token[otel_context.Context]  # to detach
    started_ns: int  # the span's start, on both clocks: trace events are perf_counter times
    started_perf: float
    request_size: int | None
    sid: str


# The request whose event handler is running (set and cleared on its own task).
_request: contextvars.ContextVar[_Open | None] = contextvars.ContextVar(
    "djira_otel_request", default=None
)
_handshake: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "djira_otel_handshake", default=None
)


def parent_context(traceparent: Any) -> otel_context.Context | None:
    """The remote parent a W3C ``traceparent`` names, or ``None`` (invalid values ignored)."""
    if not isinstance(traceparent, str) or len(traceparent) > MAX_TRACEPARENT:
        return None
    found = _propagator.extract({"traceparent": traceparent})
    return found if trace.get_current_span(found).get_span_context().is_valid else None


def user_id(scope: Scope) -> str | None:
    user = scope.user
    return str(user.pk) if user is not None and user.is_authenticated else None


class TracingListener:
    """Turns a server's requests, handshakes and pushes into OpenTelemetry spans."""

    def __init__(self, consumer: Consumer) -> None:
        from djira import __version__

        self.consumer = consumer
        self.tracer = trace.get_tracer("djira", __version__)

    # -- requests --------------------------------------------------------------------------

    def request_started(self, event: str, sid: str, payload: Any) -> None:
        started_ns, started_perf = time.time_ns(), time.perf_counter()
        parent = parent_context(payload.get("traceparent")) if isinstance(payload, dict) else None
        # Named for real once the hook has resolved its route (``request``): a client's
        # event name is not a bounded span name.
        span = self.tracer.start_span(
            "djira request", context=parent, kind=SpanKind.SERVER, start_time=started_ns
        )
        size = None
        if span.is_recording():
            with contextlib.suppress(TypeError, ValueError):
                size = len(json.dumps(payload, separators=(",", ":")))
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        _request.set(_Open(span, token, started_ns, started_perf, size, sid))

    @property
    def wants_traces(self) -> bool:
        """A recording request span wants the request's djira trace (events, SQL, pushes)."""
        current = _request.get()
        return current is not None and current.span.is_recording()

    def request(self, scope: Scope, reply: Mapping[str, Any], duration: float) -> None:
        current = _request.get()
        if current is None:
            return
        _request.set(None)
        otel_context.detach(current.token)
        span = current.span
        if span.is_recording():
            self._describe(span, current, scope, reply)
        span.end(current.started_ns + int(duration * 1e9))

    def _describe(self, span: Span, current: _Open, scope: Scope, reply: Mapping[str, Any]) -> None:
        hook, route, verb = labels(self.consumer, scope)
        span.update_name(f"{hook}/{route} {verb}" if route else f"{hook} {verb}")
        status = int(reply["status"])
        attributes: dict[str, Any] = {
            "rpc.system": "djira",
            "rpc.service": hook,
            "rpc.method": route,
            "djira.verb": verb,
            "djira.status": status,
            "djira.sid": current.sid,
        }
        if scope.request_id is not None:
            attributes["djira.request_id"] = str(scope.request_id)
        uid = user_id(scope)
        if uid is not None:
            attributes["djira.user_id"] = uid
        if current.request_size is not None:
            attributes["djira.request.size"] = current.request_size
        if scope.reply_size is not None:
            attributes["djira.reply.size"] = scope.reply_size
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, f"status {status}"))
        trace_ = scope.trace
        if trace_ is not None:
            attributes["djira.sql.count"] = trace_.sql_count
            self._events(span, current, trace_)
        span.set_attributes(attributes)

    def _events(self, span: Span, current: _Open, trace_: Any) -> None:
        """The djira trace's decisions and queries as span events."""

        def ns(at: float) -> int:
            return current.started_ns + int((at - current.started_perf) * 1e9)

        for at, kind, data in list(trace_.events):
            if kind == "permission":
                attributes = {
                    "djira.permission": data["permission"],
                    "djira.check": data["check"],
                    "djira.granted": bool(data["granted"]),
                }
                span.add_event("djira.permission", attributes, ns(at))
            elif kind == "throttle":
                attributes = {"djira.throttle": data["throttle"], "djira.allowed": data["allowed"]}
                span.add_event("djira.throttle", attributes, ns(at))
            elif kind == "sql" and type(data) is tuple:
                # An event, not a child span: a span costs about as much as a small request
                # (bench/telemetry.py). OpenTelemetry's database instrumentations give child
                # spans to projects that want them: they nest under the request's span.
                statement, _params, _many, seconds, error = data
                attributes = {
                    # The statement only: its parameters are the request's data.
                    "db.query.text": str(statement),
                    "djira.duration_ms": round(seconds * 1000, 3),
                }
                if error is not None:
                    attributes["error.type"] = str(error)
                span.add_event("djira.sql", attributes, ns(at))

    # -- pushes ------------------------------------------------------------------------------

    def pushed(self, event: str, room: str, payload: dict[str, Any]) -> None:
        pass  # its span is made by ``fanned_out``, which knows how many sockets it reached

    def fanned_out(self, event: str, room: str, recipients: int) -> None:
        """A span for a push whose sender had a span (``djira.telemetry.carry``)."""
        message = delivered_message()
        if message is None or message.context is None:
            return
        cause = trace.get_current_span(parent_context(message.context)).get_span_context()
        if not cause.is_valid:
            return
        attributes: dict[str, str | int] = {
            "messaging.system": "socket.io",
            "messaging.operation.type": "send",
            "messaging.destination.name": event,
            "djira.room": room,
            "djira.push.recipients": recipients,
        }
        span = self.tracer.start_span(
            f"push {event}",
            context=otel_context.Context(),  # a root: the push outlives its cause
            kind=SpanKind.PRODUCER,
            links=[Link(cause)],
            attributes=attributes,
        )
        span.end()

    # -- connections -------------------------------------------------------------------------

    def handshake_started(
        self, sid: str, environ: Mapping[str, Any]
    ) -> tuple[Span, Token[otel_context.Context]]:
        parent = parent_context(environ.get("HTTP_TRACEPARENT"))
        span = self.tracer.start_span("djira connect", context=parent, kind=SpanKind.SERVER)
        if span.is_recording():
            span.set_attribute("djira.sid", sid)
            span.set_attribute("djira.transport", transport_of(environ))
            address = environ.get("REMOTE_ADDR")
            if address:
                span.set_attribute("client.address", str(address))
        _handshake.set(span)
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    def handshake_finished(
        self, started: tuple[Span, Token[otel_context.Context]], status: int
    ) -> None:
        span, token = started
        _handshake.set(None)
        otel_context.detach(token)
        span.set_attribute("djira.status", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, f"status {status}"))
        span.end()

    def connected(self, scope: Scope) -> None:
        span = _handshake.get()
        uid = user_id(scope)
        if span is not None and uid is not None:
            span.set_attribute("djira.user_id", uid)

    def disconnected(self, sid: str, reason: Any) -> None:
        pass
