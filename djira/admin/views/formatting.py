"""Recorded state as the templates show it: local times, "12 s ago", wrappable room names,
traffic rows with their status class and payload."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.timesince import timesince


def when(ts: float | None) -> datetime | None:
    return timezone.localtime(datetime.fromtimestamp(ts, tz=UTC)) if ts else None


def ago(moment: datetime | None) -> str:
    """How long ago ``moment`` was, to the second under a minute ("12 s ago", "3 minutes ago").

    Django's ``timesince`` says "0 minutes" for the first minute of a connection.
    """
    if moment is None:
        return ""
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 60:
        return f"{max(0, int(seconds))} s ago"
    return f"{timesince(moment)} ago"


def lasted(seconds: float) -> str:
    """A connection's lifetime, short enough for the traffic log's ms column."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


BREAK_AFTER = re.compile(r"(?<=[:./])|(?<=__)")


def breakable(name: str) -> dict[str, Any]:
    """A room name and its pieces, to wrap after ``:``, ``.``, ``/`` or ``__`` (``<wbr>``).

    Room names such as ``djira:tasks:subscribe:app.hooks.TaskAPIHook.changes:owner__2`` have
    no spaces; wrapping them anywhere breaks words, so the templates offer these points.
    """
    return {"name": name, "parts": [part for part in BREAK_AFTER.split(name) if part]}


def decorate_row(row: dict[str, Any]) -> dict[str, Any]:
    """A traffic log row (the Traffic page, a connection's page) for its template."""
    status = row.get("status")
    payload = row.get("payload")
    duration = row.get("duration")
    # A disconnect's duration is the connection's lifetime, not a request's milliseconds.
    lifetime = row["direction"] == "disconnect"
    return {
        **row,
        "key": f"{row.get('process', '')}-{row['seq']}",
        "time": when(row["ts"]),
        "status_class": f"{status // 100}xx" if isinstance(status, int) else "",
        "ms": None if duration is None or lifetime else duration * 1000,
        "lasted": lasted(duration) if duration is not None and lifetime else "",
        "payload_json": json.dumps(payload, indent=2, default=str) if payload is not None else "",
    }
