"""The console's pages and their live partials (polled by htmx every second).

Every view is reached through ``ConsoleAdmin.console_view``, which checks staff status and
djira's permissions first. Views are sync; ``djira.admin.state`` reads live state on the
server's loop.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from djira.admin import charts, cluster
from djira.admin.catalog import get_catalog
from djira.admin.recorder import WATCH_SECONDS
from djira.admin.state import (
    find_trace,
    get_consumer,
    get_recorder,
    process_id,
    room_presence,
    snapshot,
)
from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.admin.options import ConsoleAdmin

SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TRACE_ID = re.compile(r"^[0-9a-f]{1,32}-[0-9]{1,20}$")
STATUS_CLASSES = {"2xx": (200, 300), "3xx": (300, 400), "4xx": (400, 500), "5xx": (500, 600)}
DIRECTIONS = ("in", "out", "push", "connect", "disconnect")
MAX_TRAFFIC_ROWS = 200


# -- helpers ------------------------------------------------------------------------------


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


def is_htmx(request: HttpRequest) -> bool:
    # Read the header, not django-htmx's ``request.htmx``: the middleware may not be installed.
    return request.headers.get("HX-Request") == "true"


def not_found(
    admin: ConsoleAdmin, request: HttpRequest, title: str, message: str, **extra: Any
) -> HttpResponse:
    """A console page (404) saying what was not found and why, instead of Django's 404 page."""
    ctx = context(admin, request, title, message=message, **extra)
    return render(request, "djira/admin/not_found.html", ctx, status=404)


def list_link(admin: ConsoleAdmin) -> dict[str, str]:
    """The breadcrumb of the page a detail page belongs to (Connections, Traffic)."""
    return {
        "title": str(admin.opts.verbose_name_plural).capitalize(),
        "url": reverse(
            f"admin:{admin.opts.app_label}_{admin.opts.model_name}_changelist",
            current_app=admin.admin_site.name,
        ),
    }


def watch() -> None:
    """A page is open: keep full traffic rows here, and (with Redis) in every process."""
    recorder = get_recorder(get_consumer())
    if recorder is not None:
        recorder.watch(WATCH_SECONDS)
    cluster.mark_watched(WATCH_SECONDS)


def live_state(request: HttpRequest, traffic: bool = False) -> dict[str, Any]:
    watch()
    return snapshot(traffic=traffic, on_server_loop=isinstance(request, ASGIRequest))


def context(admin: ConsoleAdmin, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    from djira.admin.options import DISCONNECT, INSPECT, has_console_perm

    return {
        **admin.admin_site.each_context(request),
        "title": title,
        "opts": admin.opts,
        "app_label": admin.opts.app_label,
        "can_inspect": has_console_perm(request, INSPECT),
        "can_disconnect": has_console_perm(request, DISCONNECT),
        "recording_enabled": bool(jira_settings.RECORD_TRAFFIC),
        "clustered": bool(jira_settings.REDIS_URL),
        **extra,
    }


BREAK_AFTER = re.compile(r"(?<=[:./])|(?<=__)")


def breakable(name: str) -> dict[str, Any]:
    """A room name and its pieces, to wrap after ``:``, ``.``, ``/`` or ``__`` (``<wbr>``).

    Room names such as ``djira:tasks:subscribe:app.hooks.TaskAPIHook.changes:owner__2`` have
    no spaces; wrapping them anywhere breaks words, so the templates offer these points.
    """
    return {"name": name, "parts": [part for part in BREAK_AFTER.split(name) if part]}


def decorate_connection(conn: dict[str, Any]) -> dict[str, Any]:
    connected = when(conn["connected_at"])
    return {
        **conn,
        "connected": connected,
        "connected_ago": ago(connected),
        "last": when(conn["last_activity"]),
        "room_names": [breakable(room) for room in conn["rooms"]],
    }


def filter_connections(conns: list[dict[str, Any]], params: Any) -> list[dict[str, Any]]:
    q = params.get("q", "").strip().lower()
    transport = params.get("transport", "")
    user = params.get("user", "").strip()
    room = params.get("room", "").strip()
    out = []
    for conn in conns:
        haystack = " ".join(
            str(conn[k]) for k in ("sid", "user", "remote", "user_agent", "process")
        )
        if q and q not in haystack.lower():
            continue
        if transport and conn["transport"] != transport:
            continue
        if user and conn["user"] != user:
            continue
        if room and room not in conn["rooms"]:
            continue
        out.append(decorate_connection(conn))
    return out


def find_connection(state: dict[str, Any], sid: str) -> dict[str, Any]:
    if not SID.match(sid):
        raise Http404("Not a Socket.IO session id.")
    for conn in state["connections"]:
        if conn["sid"] == sid:
            return decorate_connection(conn)
    raise Http404(
        "No such connection: it has disconnected, or it never existed here"
        + (" or in any process sending heartbeats." if jira_settings.REDIS_URL else ".")
    )


# -- hooks --------------------------------------------------------------------------------


def hooks_page(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    hooks = get_catalog(get_consumer().hooks)
    return render(request, "djira/admin/hooks.html", context(admin, request, "Hooks", hooks=hooks))


# -- connections --------------------------------------------------------------------------


def connections_page(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "djira/admin/connections.html",
        context(admin, request, "Connections", **connections_context(request)),
    )


def connections_context(request: HttpRequest) -> dict[str, Any]:
    state = live_state(request)
    conns = filter_connections(state["connections"], request.GET)
    processes = [
        {**p, "started": when(p["started_at"]), "started_ago": ago(when(p["started_at"]))}
        for p in state["processes"]
    ]
    return {
        "connections": conns,
        "total": len(state["connections"]),
        "processes": processes,
        "users": sorted({c["user"] for c in state["connections"]}),
        "rooms": list(state["rooms"]),
        "params": request.GET,
    }


def connections_rows(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "djira/admin/partials/_connections.html",
        context(admin, request, "Connections", **connections_context(request)),
    )


def connection_detail(admin: ConsoleAdmin, request: HttpRequest, sid: str) -> HttpResponse:
    try:
        conn = connection_context(request, sid)
    except Http404 as missing:
        shown = sid if SID.match(sid) else "?"
        return not_found(
            admin,
            request,
            f"Connection {shown}",
            str(missing),
            parent=list_link(admin),
            sid=shown,
        )
    return render(
        request,
        "djira/admin/connection.html",
        context(admin, request, f"Connection {sid}", parent=list_link(admin), **conn),
    )


def connection_panel(admin: ConsoleAdmin, request: HttpRequest, sid: str) -> HttpResponse:
    try:
        conn = connection_context(request, sid)
    except Http404:
        return render(request, "djira/admin/partials/_connection_gone.html", {"sid": sid})
    return render(
        request,
        "djira/admin/partials/_connection.html",
        context(admin, request, f"Connection {sid}", **conn),
    )


def connection_context(request: HttpRequest, sid: str) -> dict[str, Any]:
    state = live_state(request, traffic=True)
    conn = find_connection(state, sid)
    local = conn["process"] == process_id(get_consumer())
    headers = session_headers(sid) if local else {}
    rows = [decorate_row(r) for r in state["traffic"] if r["sid"] == sid][:50]
    return {"conn": conn, "headers": headers, "traffic": rows}


def session_headers(sid: str) -> dict[str, str]:
    """The handshake headers of a local connection, redacted (remote ones are not shipped)."""
    from djira.admin.redaction import redact_environ

    sio = get_consumer().sio

    async def read() -> dict[str, Any]:
        try:
            return dict(await sio.get_session(sid))
        except (KeyError, TypeError):
            return {}

    session = async_to_sync(read)()
    return redact_environ(session.get("environ") or {})


def connection_disconnect(admin: ConsoleAdmin, request: HttpRequest, sid: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    state = live_state(request)
    conn = find_connection(state, sid)
    sio = get_consumer().sio
    # On the server loop (ASGI); with a Redis manager python-socketio forwards the disconnect
    # to the process that holds the connection.
    async_to_sync(sio.disconnect)(sid)
    user_pk: Any = request.user.pk  # a logged-in staff user here, never None
    LogEntry.objects.create(
        user_id=user_pk,
        content_type=ContentType.objects.get_for_model(admin.model, for_concrete_model=False),
        object_id=sid,
        object_repr=f"{sid} ({conn['user']}, {conn['remote']})"[:200],
        action_flag=DELETION,
        change_message=json.dumps([{"deleted": {"name": "djira connection", "object": sid}}]),
    )
    messages.success(request, f"Disconnected {sid} ({conn['user']}).")
    return HttpResponseRedirect(
        reverse("admin:djira_connection_changelist", current_app=admin.admin_site.name)
    )


# -- rooms --------------------------------------------------------------------------------


def rooms_context(request: HttpRequest) -> dict[str, Any]:
    state = live_state(request)
    users = {c["sid"]: c["user"] for c in state["connections"]}
    q = request.GET.get("q", "").strip().lower()
    shown = {name: m for name, m in state["rooms"].items() if not q or q in name.lower()}
    # Who is in each observer room, on every process (djira.delivery.presence).
    present = room_presence(list(shown))
    rooms = [
        {
            **breakable(name),
            "count": len(members),
            "members": [{**m, "user": users.get(m["sid"], "?")} for m in members],
            "presence": present.get(name),
        }
        for name, members in shown.items()
    ]
    return {"rooms": rooms, "params": request.GET}


def rooms_page(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "djira/admin/rooms.html",
        context(admin, request, "Rooms", **rooms_context(request)),
    )


def rooms_rows(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "djira/admin/partials/_rooms.html",
        context(admin, request, "Rooms", **rooms_context(request)),
    )


# -- traffic ------------------------------------------------------------------------------


def decorate_row(row: dict[str, Any]) -> dict[str, Any]:
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


def traffic_stats(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    state = live_state(request)
    return render(
        request,
        "djira/admin/partials/_stats.html",
        context(admin, request, "Traffic", **stats_context(state)),
    )


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
    """The story of one request (a row of the traffic log): the panel the row opens (htmx),
    or, opened on its own (a bookmark, a link), a console page around that panel."""
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


# -- inspector ----------------------------------------------------------------------------


#: Users offered in the inspector's "Act as" list (the first ones by username).
MAX_ACT_AS_USERS = 500


def act_as_users(request: HttpRequest) -> list[dict[str, Any]] | None:
    """Users a superuser may act as in the inspector; ``None`` when acting is not offered."""
    from django.contrib.auth import get_user_model

    from djira.admin.actas import ActAsAuthentication

    user = request.user
    if not (jira_settings.INSPECTOR_ACT_AS and user.is_active and user.is_superuser):
        return None
    if ActAsAuthentication not in list(jira_settings.AUTHENTICATION_CLASSES)[:1]:
        return None  # check djira.W102 says why
    model = get_user_model()
    users = model._default_manager.filter(is_active=True).exclude(pk=user.pk)
    users = users.order_by(model.USERNAME_FIELD)[:MAX_ACT_AS_USERS]
    return [
        {"pk": u.pk, "username": u.get_username(), "superuser": u.is_superuser, "staff": u.is_staff}
        for u in users
    ]


def inspector_page(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    hooks = get_catalog(get_consumer().hooks)
    path = "/" + str(jira_settings.SOCKETIO_PATH).strip("/")
    return render(
        request,
        "djira/admin/inspector.html",
        context(
            admin,
            request,
            "Inspector",
            catalog=hooks,
            socketio_path=path,
            act_as_users=act_as_users(request),
        ),
    )
