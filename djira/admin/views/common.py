"""What every console page shares: the admin's context, the console's 404 page, and the
live state read while the page keeps the traffic recorder awake."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from djira.admin import cluster
from djira.admin.access import DISCONNECT, INSPECT, has_console_perm
from djira.admin.recorder import WATCH_SECONDS
from djira.admin.state import get_consumer, get_recorder, snapshot
from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.admin.options import ConsoleAdmin


def is_htmx(request: HttpRequest) -> bool:
    # Read the header, not django-htmx's ``request.htmx``: the middleware may not be installed.
    return request.headers.get("HX-Request") == "true"


def context(admin: ConsoleAdmin, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    """The admin's own context (sidebar, user links) and what the console's base template reads."""
    return {
        **admin.admin_site.each_context(request),
        "title": title,
        "opts": admin.opts,
        "app_label": admin.opts.app_label,
        "can_inspect": has_console_perm(request, INSPECT),
        "can_disconnect": has_console_perm(request, DISCONNECT),
        "recording_enabled": bool(jira_settings.RECORD_TRAFFIC),
        "clustered": cluster.clustered(),
        **extra,
    }


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
    """Connections, rooms, processes (and traffic rows) as the server sees them now."""
    watch()
    return snapshot(traffic=traffic, on_server_loop=isinstance(request, ASGIRequest))
