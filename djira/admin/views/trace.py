"""A trace: the story of one request (a row of the traffic log), its queries, its pushes and
how many sockets they reached, as a panel in the Traffic page or a page of its own."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from djira.admin import cluster
from djira.admin.state import find_trace
from djira.admin.views.common import context, is_htmx, list_link, not_found, watch
from djira.admin.views.formatting import when

if TYPE_CHECKING:
    from djira.admin.options import ConsoleAdmin

TRACE_ID = re.compile(r"^[0-9a-f]{1,32}-[0-9]{1,20}$")


def decorate_trace(trace: dict[str, Any]) -> dict[str, Any]:
    """A trace for its panel: the timeline, its queries apart, and the pushes' reach."""
    events = []
    for event in trace["events"]:
        details = {
            k: v for k, v in event.items() if k not in {"at_ms", "kind", "sql", "params", "ms"}
        }
        events.append(
            {
                **event,
                "details": ", ".join(f"{k}={v}" for k, v in details.items() if v is not None),
                "params_json": json.dumps(event.get("params"), default=str)
                if event.get("params") is not None
                else "",
            }
        )
    deliveries = trace.get("deliveries", [])
    pushes = [e for e in events if e["kind"] == "push"]
    # Other processes report deliveries in their heartbeats: the panel refreshes itself
    # until the last of them has had the time to.
    pending = bool(pushes) and time.time() - trace["ts"] < 3 * cluster.interval() + 1
    return {
        "pending": pending,
        **trace,
        "time": when(trace["ts"]),
        "ms": trace["duration"] * 1000,
        "events": events,
        "queries": [e for e in events if e["kind"] == "sql"],
        "pushes": pushes,
        "deliveries": [{**d, "time": when(d["ts"])} for d in deliveries],
        "recipients": sum(int(d["recipients"]) for d in deliveries),
        "status_class": f"{trace['status'] // 100}xx",
    }


def traffic_trace(admin: ConsoleAdmin, request: HttpRequest, trace_id: str) -> HttpResponse:
    """The panel a traffic row opens (htmx), or, opened on its own (a bookmark, a link), a
    console page around that panel."""
    if not TRACE_ID.match(trace_id):
        if is_htmx(request):
            raise Http404("Not a trace id.")
        return not_found(
            admin,
            request,
            "Trace ?",
            "Not a trace id: a trace's id is its process's id and a number, as in the "
            "traffic log's links.",
            parent=list_link(admin),
        )
    watch()
    trace = find_trace(trace_id)
    ctx = context(
        admin,
        request,
        f"Trace {trace_id}",
        trace=decorate_trace(trace) if trace is not None else None,
        trace_id=trace_id,
        parent=list_link(admin),
        standalone=not is_htmx(request),
    )
    if is_htmx(request):
        return render(request, "djira/admin/partials/_trace.html", ctx)
    return render(request, "djira/admin/trace.html", ctx, status=200 if trace else 404)
