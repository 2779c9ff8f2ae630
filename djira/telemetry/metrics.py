"""Prometheus metrics of a djira server: connections, requests, replies, pushes.

Recorded by ``MetricsListener``, a lifecycle listener (djira.lifecycle) that
``djira.telemetry.attach`` gives each server when ``METRICS`` is on. The metric objects are
prometheus_client's, created once per process in its default registry: a project that
already exposes that registry (django-prometheus, its own ``/metrics``) shows them there
too, and djira.telemetry.views exposes them otherwise.

Under several worker processes, prometheus_client's multiprocess mode adds them up: set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before the workers start (each writes
its values there) and the view reads every worker's files (docs/observability.md).

No label takes a per-connection value (sid, user id, room name): hooks, routes and verbs
are what the server serves, statuses and reasons are few.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from prometheus_client import Counter, Gauge, Histogram
from socketio import AsyncServer

from djira import sync
from djira.telemetry import labels, transport_of

if TYPE_CHECKING:
    from djira.consumer import Consumer
    from djira.delivery.queues import SocketQueue
    from djira.scope import Scope

# Request latencies of a realtime API: most replies take a few milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)
# Sockets per push, and messages waiting for one socket (MAX_QUEUED_MESSAGES is 1,000 by
# default: the last buckets are sockets at or near their bound).
COUNT_BUCKETS = (0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000)

# python-socketio's disconnect reasons ("client disconnect", "ping timeout"...); any other
# value is counted as "other", so a listener bug or a new release cannot grow the label set.
REASONS = frozenset(value for name, value in vars(AsyncServer.reason).items() if name.isupper())


class Metrics(NamedTuple):
    connections: Gauge
    handshakes: Counter
    disconnects: Counter
    requests: Counter
    latency: Histogram
    reply_size: Histogram
    pushes: Counter
    catchups: Counter
    worker_wait: Histogram
    ready: Gauge
    recipients: Histogram
    queue_high_water: Histogram
    queue_high_water_open: Gauge
    delivery_up: Gauge
    delivery_lag: Gauge


@lru_cache(maxsize=1)
def get_metrics() -> Metrics:
    """The process's djira metrics, registered once in prometheus_client's registry."""
    return Metrics(
        connections=Gauge(
            "djira_connections",
            "Open Socket.IO connections, by transport at the handshake and namespace.",
            ["transport", "namespace"],
            multiprocess_mode="livesum",
        ),
        handshakes=Counter(
            "djira_handshakes",
            "Connection attempts by outcome: 200 accepted, 401/403 refused, 500 failed.",
            ["status"],
        ),
        disconnects=Counter(
            "djira_disconnects", "Closed connections, by python-socketio's reason.", ["reason"]
        ),
        requests=Counter(
            "djira_requests",
            "Requests answered, by hook, route, verb and reply status.",
            ["hook", "route", "verb", "status"],
        ),
        latency=Histogram(
            "djira_request_duration_seconds",
            "From a request's arrival to its encoded reply.",
            ["hook", "route", "verb"],
            buckets=LATENCY_BUCKETS,
        ),
        reply_size=Histogram(
            "djira_reply_size_bytes",
            "Encoded reply envelopes' sizes.",
            ["hook", "route"],
            buckets=SIZE_BUCKETS,
        ),
        pushes=Counter(
            "djira_pushes",
            "Pushes and emits sent to this process's sockets, by event (hook name) and type.",
            ["event", "type"],
        ),
        catchups=Counter(
            "djira_catchups",
            "Subscriptions that asked to catch up (sent `since`), by whether history had "
            "everything they missed.",
            ["recovered"],
        ),
        worker_wait=Histogram(
            "djira_worker_queue_wait_seconds",
            "How long a unit of sync work (a request's ORM, permissions, serializers) waited "
            "for a worker thread.",
            buckets=LATENCY_BUCKETS,
        ),
        ready=Gauge(
            "djira_ready",
            "Readiness checks (djira.health) run at the last scrape: 1 ok, 0 unavailable.",
            ["check"],
            multiprocess_mode="mostrecent",
        ),
        recipients=Histogram(
            "djira_push_recipients",
            "Sockets of this process each push or emit went to, by event (hook name).",
            ["event"],
            buckets=COUNT_BUCKETS,
        ),
        queue_high_water=Histogram(
            "djira_socket_queue_high_water",
            "Closed connections by the most messages that ever waited in their queue.",
            buckets=COUNT_BUCKETS,
        ),
        queue_high_water_open=Gauge(
            "djira_socket_queue_high_water_open",
            "The highest queue high-water mark among open connections (read at scrape time).",
            multiprocess_mode="livemax",
        ),
        delivery_up=Gauge(
            "djira_delivery_up",
            "Whether the delivery backend works for this process's servers: 1 yes, 0 failing "
            "(read at scrape time).",
            ["backend"],
            multiprocess_mode="livemin",
        ),
        delivery_lag=Gauge(
            "djira_delivery_lag_messages",
            "Pushes behind: the database outbox's rows not yet delivered here, or the "
            "messages waiting to be published to Redis (read at scrape time).",
            ["backend"],
            multiprocess_mode="livemax",
        ),
    )


#: Every server's listener in this process, for what is read at scrape time
#: (djira.telemetry.sampling).
listeners: weakref.WeakSet[MetricsListener] = weakref.WeakSet()


class MetricsListener:
    """Counts a server's lifecycle events into the process's Prometheus metrics."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.metrics = get_metrics()
        # Process-wide, like the worker threads themselves (djira.sync).
        sync.wait_observer = self.metrics.worker_wait.observe
        # Open connections' gauge labels, to take them off again at disconnect, and their
        # bounded queues (djira.delivery.queues), whose high-water marks are read.
        self._open: dict[str, tuple[str, str]] = {}
        self._queues: dict[str, SocketQueue] = {}
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any, Any]] = {}
        self._recipients: dict[str, Any] = {}
        listeners.add(self)

    def queues(self) -> list[SocketQueue]:
        """The open connections' queues (a copy: read from the scraping thread)."""
        return list(self._queues.values())

    def handshake(self, status: int) -> None:
        self.metrics.handshakes.labels(str(status)).inc()

    def connected(self, scope: Scope) -> None:
        key = (transport_of(scope.environ), "/")
        self._open[scope.sid] = key
        self.metrics.connections.labels(*key).inc()
        # The bounded queue djira.delivery.queues installed as the socket connected (read
        # by attribute: delivery imports this package, not the other way round).
        server = self.consumer.sio
        socket = server.eio.sockets.get(server.manager.eio_sid_from_sid(scope.sid, "/"))
        queue = getattr(socket, "queue", None)
        if hasattr(queue, "high_water"):
            self._queues[scope.sid] = cast("SocketQueue", queue)

    def disconnected(self, sid: str, reason: Any) -> None:
        key = self._open.pop(sid, None)
        if key is None:  # connected before this listener existed, or refused
            return
        queue = self._queues.pop(sid, None)
        if queue is not None:
            self.metrics.queue_high_water.observe(queue.high_water)
        self.metrics.connections.labels(*key).dec()
        self.metrics.disconnects.labels(reason if reason in REASONS else "other").inc()

    def request(self, scope: Scope, reply: Mapping[str, Any], duration: float) -> None:
        key = (*labels(self.consumer, scope), reply["status"])
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._labelled(*key)
        count, latency, size = children
        count.inc()
        latency.observe(duration)
        if scope.reply_size is not None:
            size.observe(scope.reply_size)
        if scope.since is not None and scope.recovered is not None:
            self.metrics.catchups.labels("true" if scope.recovered else "false").inc()

    def _labelled(self, hook: str, route: str, verb: str, status: int) -> tuple[Any, Any, Any]:
        # ``labels()`` checks and converts its arguments and takes a lock on every call: a
        # request looks its label set up once, in ``_children`` (bounded as the labels are).
        metrics = self.metrics
        return (
            metrics.requests.labels(hook, route, verb, str(status)),
            metrics.latency.labels(hook, route, verb),
            metrics.reply_size.labels(hook, route),
        )

    def pushed(self, event: str, room: str, payload: dict[str, Any]) -> None:
        kind = payload.get("type") if payload.get("action") == "SUBSCRIPTION" else "emit"
        self.metrics.pushes.labels(event[:64], str(kind)[:16]).inc()

    def fanned_out(self, event: str, recipients: int) -> None:
        """A push or emit on ``event`` went to ``recipients`` of this process's sockets."""
        child = self._recipients.get(event)
        if child is None:
            # Looked up once per event name, as ``request`` does for its label sets.
            child = self._recipients[event] = self.metrics.recipients.labels(event[:64])
        child.observe(recipients)
