"""The Traffic page: the log of requests, pushes and connections (filtered on the server),
and its live statistics (events a second, latency by route, disconnects by reason)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from djira.admin import charts
from djira.admin.state import get_consumer
from djira.admin.views.common import context, live_state
from djira.admin.views.formatting import decorate_row
from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.admin.options import ConsoleAdmin

STATUS_CLASSES = {"2xx": (200, 300), "3xx": (300, 400), "4xx": (400, 500), "5xx": (500, 600)}
DIRECTIONS = ("in", "out", "push", "connect", "disconnect")
MAX_TRAFFIC_ROWS = 200


def filter_rows(rows: list[dict[str, Any]], params: Any) -> list[dict[str, Any]]:
    """Server-side filters: hook, namespace, status class, user, sid, direction, since."""
    hook = params.get("hook", "").strip()
    namespace = params.get("namespace", "").strip()
    status = STATUS_CLASSES.get(params.get("status", ""))
    user = params.get("user", "").strip()
    sid = params.get("sid", "").strip()
    direction = params.get("direction", "")
    try:
        since = float(params.get("since") or 0)
    except ValueError:
        since = 0.0
    out = []
    for row in rows:
        if row["ts"] <= since:
            continue
        if hook and row.get("hook") != hook:
            continue
        if namespace and (row.get("namespace") or "") != namespace:
            continue
        if status and not (
            isinstance(row.get("status"), int) and status[0] <= row["status"] < status[1]
        ):
            continue
        if user and row.get("user") != user:
            continue
        if sid and row.get("sid") != sid:
            continue
        if direction in DIRECTIONS and row["direction"] != direction:
            continue
        out.append(decorate_row(row))
        if len(out) >= MAX_TRAFFIC_ROWS:
            break
    return out


def traffic_context(request: HttpRequest) -> dict[str, Any]:
    state = live_state(request, traffic=True)
    rows = filter_rows(state["traffic"], request.GET)
    newest = state["traffic"][0]["ts"] if state["traffic"] else 0
    return {
        "rows": rows,
        "newest": newest,
        "params": request.GET,
        "hooks": sorted(get_consumer().hooks),
        "directions": DIRECTIONS,
        "status_classes": list(STATUS_CLASSES),
        "state": state,
    }


def stats_context(state: dict[str, Any]) -> dict[str, Any]:
    eps = state["eps"][-120:]
    return {
        "eps_chart": charts.bars(eps),
        "eps_now": eps[-1] if eps else 0,
        "eps_max": max(eps) if eps else 0,
        "routes": charts.latency_rows(state["routes"]),
        "unrecorded": state["unrecorded"],
        "record_rate": jira_settings.TRAFFIC_RECORD_RATE,
        "disconnects": state.get("disconnects") or {},
    }


def traffic_page(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    ctx = traffic_context(request)
    ctx.update(stats_context(ctx.pop("state")))
    return render(request, "djira/admin/traffic.html", context(admin, request, "Traffic", **ctx))


def traffic_rows(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    ctx = traffic_context(request)
    ctx.pop("state")
    return render(
        request, "djira/admin/partials/_traffic.html", context(admin, request, "Traffic", **ctx)
    )


def traffic_stats(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    state = live_state(request)
    return render(
        request,
        "djira/admin/partials/_stats.html",
        context(admin, request, "Traffic", **stats_context(state)),
    )
