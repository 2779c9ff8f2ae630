"""The story of one request, kept only while a lifecycle listener asks for it.

When some listener has ``wants_traces`` true (the admin's recorder, while a console page
watches), the request path gives each request a ``Trace`` and records in it, in order: each
middleware entered and left, each permission and throttle decision, every SQL query the
request's unit of work ran (time and statement), the reply, and the pushes the request caused
(which reach the trace through ``current_trace`` in the thread that committed). Otherwise
``scope.trace`` is ``None`` and each of those places costs one ``is None`` test.

Statements are recorded with their parameters apart, never interpolated: listeners redact
them as they redact payloads.
"""

from __future__ import annotations

import contextvars
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

#: The trace of the request whose code is running (worker thread or event loop).
current_trace: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "djira_trace", default=None
)

#: Bounds, so one request with a query loop cannot grow a trace without limit.
MAX_EVENTS = 200
MAX_SQL_LENGTH = 2000

_ids = itertools.count(1)


class Trace:
    """Ordered events of one request; times in milliseconds since it started.

    Recording is kept cheap (it runs inside the request): events are stored as they come,
    with raw times and a query's statement and parameters as Django passed them, and are
    turned into JSON-safe dicts only by ``as_dict()``, when someone looks.
    """

    __slots__ = ("id", "started", "events", "dropped", "sql_count", "sql_seconds", "wanted_by")

    def __init__(self, wanted_by: tuple[Any, ...] = ()) -> None:
        self.id = f"{time.time_ns():x}-{next(_ids)}"
        #: The lifecycle listeners that asked for this trace (``Monitor.start_trace``): one
        #: that samples records only its own choices, whoever else wanted the trace.
        self.wanted_by = wanted_by
        self.started = time.perf_counter()
        # (perf_counter time, kind, data): data is a dict of the event's fields, or for
        # "sql" a tuple (statement, params, many, seconds, error type) as Django passed them.
        self.events: list[tuple[float, str, Any]] = []
        self.dropped = 0
        self.sql_count = 0
        self.sql_seconds = 0.0

    def add(self, kind: str, **data: Any) -> None:
        """Record one event (``middleware``, ``permission``, ``throttle``, ``sql``, ``reply``,
        ``push``...)."""
        if len(self.events) >= MAX_EVENTS:
            self.dropped += 1
            return
        self.events.append((time.perf_counter(), kind, data))

    @property
    def sql_ms(self) -> float:
        return self.sql_seconds * 1000

    def as_dict(self) -> dict[str, Any]:
        """The trace as JSON-safe data: ``{"id", "events", "dropped", "sql"}``."""
        return {
            "id": self.id,
            "events": [self._event(at, kind, data) for at, kind, data in list(self.events)],
            "dropped": self.dropped,
            "sql": {"count": self.sql_count, "ms": round(self.sql_ms, 3)},
        }

    def _event(self, at: float, kind: str, data: Any) -> dict[str, Any]:
        if kind == "sql" and type(data) is tuple:  # as _execute stores a query
            sql, params, many, seconds, error = data
            data = {"sql": sql, "params": params, "many": many, "ms": round(seconds * 1000, 3)}
            data["error"] = error
        event = {"at_ms": round((at - self.started) * 1000, 3), "kind": kind, **data}
        if kind == "sql":
            event["sql"] = str(event["sql"])[:MAX_SQL_LENGTH]
            event["params"] = _params(event["params"], event.pop("many", False))
        return event

    @contextmanager
    def sql(self) -> Iterator[None]:
        """Record every query run in this thread's default connection meanwhile."""
        with connection.execute_wrapper(self._execute):
            yield

    def _execute(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        # Runs around every query of a traced request: store a tuple, format nothing.
        started = time.perf_counter()
        error = None
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            error = type(exc).__name__
            raise
        finally:
            ended = time.perf_counter()
            seconds = ended - started
            self.sql_count += 1
            self.sql_seconds += seconds
            if len(self.events) < MAX_EVENTS:
                # Bounded as kept: a statement cut, an executemany's rows not kept at all.
                statement = sql[:MAX_SQL_LENGTH] if isinstance(sql, str) else sql
                kept = None if many else params
                self.events.append((ended, "sql", (statement, kept, many, seconds, error)))
            else:
                self.dropped += 1


def _params(params: Any, many: bool) -> Any:
    if many or params is None:
        return None  # executemany: the statement is the story; the rows would be too many
    if isinstance(params, dict):
        return {str(k): _scalar(v) for k, v in params.items()}
    if isinstance(params, list | tuple):
        return [_scalar(v) for v in params]
    return _scalar(params)


def _scalar(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)
