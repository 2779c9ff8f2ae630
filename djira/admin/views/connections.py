"""The Connections page, its live rows, a connection's page and the disconnect action."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import reverse

from djira.admin import cluster
from djira.admin.redaction import redact_environ
from djira.admin.state import get_consumer, process_id
from djira.admin.views.common import context, list_link, live_state, not_found
from djira.admin.views.formatting import ago, breakable, decorate_row, when

if TYPE_CHECKING:
    from djira.admin.options import ConsoleAdmin

SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
    """The page's filters: free text, transport, user, room."""
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
        + (" or in any process sending heartbeats." if cluster.clustered() else ".")
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


def connections_page(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "djira/admin/connections.html",
        context(admin, request, "Connections", **connections_context(request)),
    )


def connections_rows(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "djira/admin/partials/_connections.html",
        context(admin, request, "Connections", **connections_context(request)),
    )


def session_headers(sid: str) -> dict[str, str]:
    """The handshake headers of a local connection, redacted (remote ones are not shipped)."""
    sio = get_consumer().sio

    async def read() -> dict[str, Any]:
        try:
            return dict(await sio.get_session(sid))
        except (KeyError, TypeError):
            return {}

    session = async_to_sync(read)()
    return redact_environ(session.get("environ") or {})


def connection_context(request: HttpRequest, sid: str) -> dict[str, Any]:
    state = live_state(request, traffic=True)
    conn = find_connection(state, sid)
    local = conn["process"] == process_id(get_consumer())
    headers = session_headers(sid) if local else {}
    rows = [decorate_row(r) for r in state["traffic"] if r["sid"] == sid][:50]
    return {"conn": conn, "headers": headers, "traffic": rows}


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
