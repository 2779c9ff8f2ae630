"""Prometheus metrics and OpenTelemetry spans of the request path (docs/observability.md).

Both are off unless configured (``METRICS``, ``TRACING`` in ``DJIRA_SETTINGS``); off, this
package imports neither library and the request path pays one ``is None`` test per request.
On, ``attach`` gives a consumer's monitor the listeners that record them
(djira.telemetry.metrics, djira.telemetry.tracing) and returns the ``Telemetry`` whose two
hooks the request path calls: ``request_started`` (djira.handler) and ``handshake``
(djira.consumer), and one the fan-out calls, ``fanned_out`` (djira.delivery.local).
Everything else arrives as lifecycle events (djira.lifecycle), or is read when Prometheus
scrapes (djira.telemetry.sampling).

Labels and span names stay bounded: a hook name or route the server does not serve is
named ``unknown``, and nothing per connection (sid, user, room) is ever a label.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.consumer import Consumer
    from djira.scope import Scope
    from djira.telemetry.metrics import MetricsListener
    from djira.telemetry.tracing import TracingListener

UNKNOWN = "unknown"


def labels(consumer: Consumer, scope: Scope) -> tuple[str, str, str]:
    """``(hook, route, verb)`` of a request, each from a bounded set.

    The route is the one the hook resolved (a CRUD method's name such as ``list``, or an
    ``@action``'s namespace); a request that never reached a route has ``""``.
    """
    hook = scope.event if scope.event in consumer.hooks else UNKNOWN
    # ``_route`` is set by APIHook once the request's route is resolved (djira.base).
    route = getattr(scope.hook, "_route", None)
    return hook, (route.name if route is not None else ""), scope.action


def transport_of(environ: Mapping[str, Any]) -> str:
    """The Engine.IO transport a connection opened with (polling, then maybe upgraded)."""
    query = str(environ.get("QUERY_STRING", ""))
    return "websocket" if "transport=websocket" in query else "polling"


class Telemetry:
    """A server's metrics and tracing listeners, and the request path's hooks into them."""

    def __init__(self, metrics: MetricsListener | None, tracing: TracingListener | None) -> None:
        self.metrics = metrics
        self.tracing = tracing

    def request_started(self, event: str, sid: str, payload: Any) -> None:
        """A client event arrived (before anything of it runs), on the event's own task."""
        if self.tracing is not None:
            self.tracing.request_started(event, sid, payload)

    def fanned_out(self, event: str, room: str, recipients: int) -> None:
        """A push or emit on ``event`` to ``room`` went to ``recipients`` of this process's
        sockets (counted by the fan-out, which knows them)."""
        if self.metrics is not None:
            self.metrics.fanned_out(event, recipients)
        if self.tracing is not None:
            self.tracing.fanned_out(event, room, recipients)

    @contextlib.contextmanager
    def handshake(self, sid: str, environ: dict[str, Any]) -> Iterator[None]:
        """Around a connection's authentication and ``can_connect`` checks.

        A refusal (``ConnectionRefusedError`` carrying its status) goes through unchanged.
        """
        started = self.tracing.handshake_started(sid, environ) if self.tracing else None
        status = 500
        try:
            yield
            status = 200
        except Exception as exc:
            args = getattr(exc, "error_args", None)
            if isinstance(args, dict) and isinstance(args.get("status"), int):
                status = args["status"]
            raise
        finally:
            if self.metrics is not None:
                self.metrics.handshake(status)
            if started is not None and self.tracing is not None:
                self.tracing.handshake_finished(started, status)


def attach(consumer: Consumer) -> Telemetry | None:
    """Give ``consumer``'s monitor the configured listeners; ``None`` when nothing is."""
    metrics = tracing = None
    if jira_settings.METRICS:
        from djira.telemetry.metrics import MetricsListener

        metrics = MetricsListener(consumer)
        consumer.monitor.listeners.append(metrics)
    if jira_settings.TRACING:
        from djira.telemetry.tracing import TracingListener

        tracing = TracingListener(consumer)
        consumer.monitor.listeners.append(tracing)
    if metrics is None and tracing is None:
        return None
    return Telemetry(metrics, tracing)
