"""``TrafficRecorder``: what the admin knows about one server process's traffic.

Two costs, on purpose:

- always, per event: a few counters (per connection, per route, per second) and one
  duration appended to a bounded deque;
- only while an admin page is *watching* (one polled within ``WATCH_SECONDS``, in any
  process when Redis is configured) and ``RECORD_TRAFFIC`` is on: a full row, redacted, in a
  ring buffer of ``TRAFFIC_BUFFER_SIZE`` rows; and, since the recorder then ``wants_traces``
  (djira.trace), each request's trace, redacted, in a ring buffer of ``TRACE_BUFFER_SIZE``,
  with the deliveries of the pushes it caused as processes report them.

A request is recorded in full only within ``TRAFFIC_RECORD_RATE`` requests a second (a token
bucket, decided as the request starts, so its rows and its trace go together); past that it is
counted, and counted as not recorded, unless it failed (status 400 or more): failures past
the budget keep their rows, without a trace, within a second budget of the same rate, so that
a filter on errors finds them under load. A page shows 200 rows (100 requests) a second, so
under load most full rows would be evicted unseen: the budget bounds what watching costs,
whatever a request itself costs (``bench/recording.py``). So nothing heavier than a counter
runs per event while nobody looks, and a bounded amount while somebody does.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from djira import json as djira_json
from djira.admin.redaction import REDACTED, KeyMatcher, redact, redact_keys
from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.consumer import Consumer
    from djira.scope import Scope
    from djira.trace import Trace

# A page keeps full recording on this long after its last poll.
WATCH_SECONDS = 10.0
# Events-per-second buckets kept (five minutes).
HISTORY_SECONDS = 300
# Durations kept per route for p50/p99.
SAMPLES_PER_ROUTE = 512
# Distinct routes tracked; client-chosen names beyond this share one "(other)" entry.
MAX_ROUTES = 500
# The fields of a row that not every kind of row has.
_EMPTY_ROW: dict[str, Any] = dict.fromkeys(
    (
        "hook",
        "namespace",
        "action",
        "status",
        "duration",
        "size",
        "requestId",
        "room",
        "payload",
        "trace",
    )
)
# Deliveries kept per trace (one per room and process a push reached).
MAX_DELIVERIES = 100
# Seconds over which requests left out by the recording budget are counted for the page.
UNRECORDED_SECONDS = 60
# Distinct disconnect reasons counted; others share "(other)" (reasons come from the server).
MAX_REASONS = 32


class Budget:
    """At most ``rate`` takes a second, in bursts of up to ``rate`` (a token bucket);
    ``None``: no limit. Runs on the server's loop only, so it needs no lock."""

    __slots__ = ("rate", "tokens", "at")

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.tokens = float(rate or 0)
        self.at = time.monotonic()

    def take(self) -> bool:
        rate = self.rate
        if rate is None:
            return True
        now = time.monotonic()
        tokens = min(rate, self.tokens + (now - self.at) * rate)
        self.at = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        return False


@dataclass(slots=True)
class ConnectionStats:
    """Counters of one live connection."""

    connected_at: float
    # Requests received, each answered once (pushes are counted per room, not per socket).
    requests: int = 0
    last_activity: float = 0.0


@dataclass(slots=True)
class RouteStats:
    """Counters and recent durations (seconds) of one ``hook:namespace action``."""

    count: int = 0
    errors: int = 0
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES_PER_ROUTE))
    # (count, p50, p99) when last summarized: a route with no new request is not sorted again
    # (the heartbeat summarizes every route every interval, busy or not).
    summary: tuple[int, float, float] = (0, 0.0, 0.0)

    def percentiles(self) -> tuple[float, float]:
        """p50 and p99 of the recent durations, in seconds."""
        if self.summary[0] != self.count:
            durations = sorted(self.durations)
            p50, p99 = percentile(durations, 0.5), percentile(durations, 0.99)
            self.summary = (self.count, p50, p99)
        return self.summary[1], self.summary[2]


def user_label(user: Any) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return str(user.get_username())


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (empty: 0)."""
    if not values:
        return 0.0
    index = min(len(values) - 1, max(0, math.ceil(fraction * len(values)) - 1))
    return values[index]


class TrafficRecorder:
    """A lifecycle listener (``djira.lifecycle``), registered by the console when installed."""

    def __init__(
        self,
        size: int | None = None,
        on_first_connection: Callable[[Consumer | None], None] | None = None,
    ) -> None:
        if size is None:
            size = int(jira_settings.TRAFFIC_BUFFER_SIZE)
        self.rows: deque[dict[str, Any]] = deque(maxlen=max(1, size))
        self.connections: dict[str, ConnectionStats] = {}
        self.routes: dict[tuple[str, str, str], RouteStats] = {}
        # [second, events] pairs, oldest first.
        self.per_second: deque[list[int]] = deque(maxlen=HISTORY_SECONDS)
        self.watched_until = 0.0
        self.started_at = time.time()
        self._seq = itertools.count(1)
        #: Run once, with the server's consumer, at the first connection (on the server's
        #: loop): the console starts there the heartbeat that publishes this process's
        #: snapshot (djira.admin.state.start_heartbeat).
        self.on_first_connection = on_first_connection
        # Trace id -> the request's trace as recorded (bounded; redacted when a page reads
        # it, like its SQL parameters); trace id -> deliveries of its pushes.
        self.trace_size = max(1, int(jira_settings.TRACE_BUFFER_SIZE))
        self.traces: OrderedDict[str, tuple[Trace, dict[str, Any]]] = OrderedDict()
        self.deliveries: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        rate = jira_settings.TRAFFIC_RECORD_RATE
        rate = None if rate is None else float(rate)
        self.budget = Budget(rate)
        # Failed requests past the budget: rows without a trace (the trace was not taken as
        # they started), within a budget of their own, so a filter on errors finds them.
        self.error_budget = Budget(rate)
        # [second, requests] pairs: requests a page was watching but the budget left out.
        self.unrecorded: deque[list[int]] = deque(maxlen=UNRECORDED_SECONDS)
        # Disconnects since the process started, by reason ("slow consumer", "ping timeout",
        # "client disconnect", ...): always counted, like the route counters.
        self.disconnects: dict[str, int] = {}

    # -- watching -------------------------------------------------------------------------

    def watch(self, seconds: float = WATCH_SECONDS) -> None:
        """Keep full rows for ``seconds`` more (an admin page is open)."""
        self.watched_until = max(self.watched_until, time.monotonic() + seconds)

    @property
    def recording(self) -> bool:
        return time.monotonic() < self.watched_until and bool(jira_settings.RECORD_TRAFFIC)

    @property
    def wants_traces(self) -> bool:
        """Read by the core once per request, as it starts (djira.lifecycle): whether to trace
        this one. While a page watches, yes, within the budget; ``request()`` records in full
        the requests whose trace this recorder asked for (``Trace.wanted_by``)."""
        return self.recording and self.budget.take()

    def unrecorded_recently(self, now: float | None = None) -> int:
        """Requests left out of the rows and traces by the budget in the last minute."""
        since = int(now if now is not None else time.time()) - UNRECORDED_SECONDS
        return sum(count for second, count in list(self.unrecorded) if second > since)

    def clear(self) -> None:
        self.rows.clear()

    # -- counters (always) ----------------------------------------------------------------

    def _tick(self, now: float, buckets: deque[list[int]] | None = None) -> None:
        second = int(now)
        if buckets is None:
            buckets = self.per_second
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += 1
        else:
            buckets.append([second, 1])

    def _route(self, hook: str, namespace: str, action: str) -> RouteStats:
        key = (hook, namespace, action)
        stats = self.routes.get(key)
        if stats is None:
            if len(self.routes) >= MAX_ROUTES:
                key = ("(other)", "", "")
                stats = self.routes.get(key)
            if stats is None:
                stats = self.routes[key] = RouteStats()
        return stats

    # -- lifecycle listener (djira.lifecycle.Listener) ----------------------------------

    def connected(self, scope: Scope) -> None:
        now = time.time()
        first = self.on_first_connection
        if first is not None:
            self.on_first_connection = None
            first(getattr(scope.server, "djira_consumer", None))
        self.connections[scope.sid] = ConnectionStats(connected_at=now, last_activity=now)
        self._tick(now)
        if self.recording:
            environ = scope.environ
            self._add(
                now,
                "connect",
                scope.sid,
                user_label(scope.user),
                payload={
                    "remote": remote_address(environ),
                    "userAgent": environ.get("HTTP_USER_AGENT", ""),
                },
            )

    def disconnected(self, sid: str, reason: Any) -> None:
        now = time.time()
        stats = self.connections.pop(sid, None)
        self._tick(now)
        label = str(reason or "unknown")
        if label not in self.disconnects and len(self.disconnects) >= MAX_REASONS:
            label = "(other)"
        self.disconnects[label] = self.disconnects.get(label, 0) + 1
        if self.recording:
            self._add(
                now,
                "disconnect",
                sid,
                "",
                payload={"reason": str(reason or "")},
                duration=(now - stats.connected_at) if stats else None,
            )

    def request(self, scope: Scope, reply: Mapping[str, Any], duration: float) -> None:
        now = time.time()
        status = int(reply["status"])
        stats = self.connections.get(scope.sid)
        if stats is not None:
            stats.requests += 1
            stats.last_activity = now
        self._tick(now)
        # Unknown hooks and namespaces are named by the client: keep them out of the keys.
        if status == 404:
            route = self._route("(not found)", "", scope.action)
        else:
            route = self._route(scope.event, scope.namespace or "", scope.action)
        route.count += 1
        if status >= 400:
            route.errors += 1
        route.durations.append(duration)
        if not self.recording:
            return
        if scope.trace is not None and self in scope.trace.wanted_by:
            # Chosen as it started (``wants_traces``): recorded in full, rows and trace.
            self._record_request(scope, reply, duration, now, scope.trace.id)
            self._record_trace(scope, reply, duration, now)
        elif status >= 400 and self.error_budget.take():
            self._record_request(scope, reply, duration, now, None)
        else:
            self._tick(now, self.unrecorded)

    def pushed(self, event: str, room: str, payload: dict[str, Any]) -> None:
        now = time.time()
        self._tick(now)
        if self.recording:
            self._add(
                now,
                "push",
                "",
                "",
                hook=event,
                namespace=payload.get("namespace"),
                action=payload.get("action"),
                status=payload.get("status"),
                room=room,
                payload=redact(payload.get("data")),
                size=len(djira_json.dumps(payload)),
            )

    def push_delivered(self, trace: str, event: str, room: str, recipients: int) -> None:
        """A push caused by traced request ``trace`` reached ``recipients`` sockets here
        (called by the outbox, djira.delivery.outbox, in whichever process delivers)."""
        if not self.recording:
            return
        deliveries = self.deliveries.get(trace)
        if deliveries is None:
            deliveries = self.deliveries[trace] = []
            while len(self.deliveries) > self.trace_size:
                self.deliveries.popitem(last=False)
        if len(deliveries) < MAX_DELIVERIES:
            deliveries.append(
                {"ts": time.time(), "event": event, "room": room, "recipients": recipients}
            )

    # -- rows (only while watched) --------------------------------------------------------

    def _record_trace(
        self, scope: Scope, reply: Mapping[str, Any], duration: float, now: float
    ) -> None:
        trace = scope.trace
        # Kept as it is and formatted (redacted, made JSON-safe) only when a page reads it:
        # this runs on the event loop for every request while a page watches.
        self.traces[trace.id] = (
            trace,
            {
                "ts": now - duration,
                "duration": duration,
                "hook": scope.event,
                "namespace": scope.namespace,
                "action": scope.action,
                "pk": scope.pk,
                "status": reply["status"],
                "requestId": reply.get("requestId"),
                "sid": scope.sid,
                "user": user_label(scope.user),
            },
        )
        while len(self.traces) > self.trace_size:
            self.traces.popitem(last=False)

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        """The kept trace ``trace_id``, redacted and JSON-safe (``None``: not kept here)."""
        kept = self.traces.get(trace_id)
        return None if kept is None else self._format_trace(*kept)

    def recent_traces(self, count: int) -> list[dict[str, Any]]:
        """The newest ``count`` kept traces, redacted and JSON-safe, oldest first."""
        return [self._format_trace(*kept) for kept in list(self.traces.values())[-count:]]

    @staticmethod
    def _format_trace(trace: Trace, meta: dict[str, Any]) -> dict[str, Any]:
        keys = redact_keys()
        data = trace.as_dict()
        return {
            **data,
            "events": [redact_event(event, keys) for event in data["events"]],
            **meta,
            "pk": redact(meta["pk"], keys),
        }

    def _record_request(
        self,
        scope: Scope,
        reply: Mapping[str, Any],
        duration: float,
        now: float,
        trace_id: str | None,
    ) -> None:
        keys = redact_keys()
        user = user_label(scope.user)
        request = {
            "pk": scope.pk,
            "data": scope.data,
            "query": scope.raw_query,
            "headers": scope.headers,
        }
        common = {
            "hook": scope.event,
            "namespace": scope.namespace,
            "action": scope.action,
            "requestId": reply.get("requestId"),
            "trace": trace_id,  # a trace this recorder keeps, else none to link to
        }
        self._add(now - duration, "in", scope.sid, user, payload=redact(request, keys), **common)
        self._add(
            now,
            "out",
            scope.sid,
            user,
            status=reply["status"],
            duration=duration,
            size=scope.reply_size if scope.reply_size is not None else len(djira_json.dumps(reply)),
            payload=redact(reply.get("data"), keys),
            **common,
        )

    def _add(self, ts: float, direction: str, sid: str, user: str, **fields: Any) -> None:
        row = {
            "seq": next(self._seq),
            "ts": ts,
            "direction": direction,
            "sid": sid,
            "user": user,
            **_EMPTY_ROW,
            **fields,
        }
        if direction in {"connect", "disconnect"}:
            row["payload"] = redact(row["payload"])
        self.rows.append(row)

    # -- reading (views, heartbeat) -------------------------------------------------------

    def events_per_second(
        self, seconds: int = HISTORY_SECONDS, now: float | None = None
    ) -> list[int]:
        """Events in each of the last ``seconds`` whole seconds, oldest first."""
        end = int(now if now is not None else time.time())
        counts = {second: count for second, count in list(self.per_second)}  # noqa: C416
        return [counts.get(s, 0) for s in range(end - seconds + 1, end + 1)]

    def route_summary(self) -> list[dict[str, Any]]:
        """Per route: count, errors, p50 and p99 in milliseconds."""
        summary = []
        for (hook, namespace, action), stats in list(self.routes.items()):
            p50, p99 = stats.percentiles()
            summary.append(
                {
                    "hook": hook,
                    "namespace": namespace,
                    "action": action,
                    "count": stats.count,
                    "errors": stats.errors,
                    "p50": p50 * 1000,
                    "p99": p99 * 1000,
                }
            )
        return sorted(summary, key=lambda r: (r["hook"], r["namespace"], r["action"]))


#: Trace events the core writes from its own names, flags and statuses only: kept as they are.
CORE_EVENTS = frozenset({"middleware", "permission", "throttle", "reply", "push"})


def redact_event(event: dict[str, Any], keys: KeyMatcher) -> dict[str, Any]:
    """A trace event, redacted: a query's parameters are hidden (they carry the request's
    values, passwords included, without key names to judge them by), its statement kept;
    events from elsewhere are redacted as payloads are."""
    kind = event.get("kind")
    if kind == "sql":
        params = event.get("params")
        if isinstance(params, dict):
            params = dict.fromkeys(params, REDACTED)
        elif isinstance(params, list):
            params = [REDACTED] * len(params)
        elif params is not None:
            params = REDACTED
        return {**event, "params": params}
    if kind in CORE_EVENTS:
        return event
    redacted: dict[str, Any] = redact(event, keys)
    return redacted


def remote_address(environ: dict[str, Any]) -> str:
    """The peer address the ASGI server saw (python-engineio's ``REMOTE_ADDR`` is a stub).

    ``X-Forwarded-For`` is not trusted here: anyone can send it. The consumer resolves it
    into ``REMOTE_ADDR`` through ``NUM_PROXIES`` and drops it from the connection's headers.
    """
    scope = environ.get("asgi.scope")
    client = scope.get("client") if isinstance(scope, dict) else None
    if client:
        return f"{client[0]}:{client[1]}"
    return str(environ.get("REMOTE_ADDR", ""))
