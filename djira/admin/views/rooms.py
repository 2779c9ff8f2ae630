"""The Rooms page and its live rows: each room, its members and their presence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from djira.admin.state import room_presence
from djira.admin.views.common import context, live_state
from djira.admin.views.formatting import breakable

if TYPE_CHECKING:
    from djira.admin.options import ConsoleAdmin


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
