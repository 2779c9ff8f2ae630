"""Trace context across processes: what a push carries from its sender to its delivery.

The delivery path calls two functions here (djira.delivery): ``carry`` as a push leaves the
committing thread, ``delivering`` as a server hands it to its sockets. Without ``TRACING``
they cost a settings lookup and an attribute test, and import no OpenTelemetry.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, TypeVar

from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.delivery.messages import Message

M = TypeVar("M", bound="Message")

#: The message being delivered to this process's sockets (``delivering``), while it carries
#: a trace context: the push's span links to it (djira.telemetry.tracing).
_delivering: contextvars.ContextVar[Message | None] = contextvars.ContextVar(
    "djira_delivering", default=None
)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current OpenTelemetry span, if it is sampled."""
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid or not span_context.trace_flags.sampled:
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def carry(messages: list[M]) -> list[M]:
    """``messages`` stamped with the sender's trace context, while ``TRACING`` has one.

    Called as a push leaves (in the committing thread, where a request's span is current),
    so that whichever process delivers it can link the push's span to its cause.
    """
    if not jira_settings.TRACING:
        return messages
    context = current_traceparent()
    if context is None:
        return messages
    return [m._replace(context=context) for m in messages]  # type: ignore[misc]


def delivering(message: Message) -> None:
    """``message`` is being delivered to this process's sockets, on the server's loop."""
    if message.context is not None or _delivering.get() is not None:
        _delivering.set(message if message.context is not None else None)


def delivered_message() -> Message | None:
    """The message being delivered, if it carries a trace context."""
    return _delivering.get()
