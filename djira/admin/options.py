"""The console's ``ModelAdmin``s: admin index entries, URLs and permission checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django_htmx.http import HttpResponseClientRedirect

from djira import models
from djira.admin import asyncapi_view
from djira.admin.access import DISCONNECT, INSPECT, VIEW, has_console_perm
from djira.admin.views import connections, hooks, inspector, rooms, trace, traffic


def page_path(request: HttpRequest) -> str:
    """The path (and query) of the page an htmx request came from, else the request's own.

    htmx sends the browser's address in ``HX-Current-URL``; only a path on this host is
    taken from it, so a forged header cannot make the login redirect elsewhere.
    """
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.path.startswith("/") and current.netloc in ("", request.get_host()):
        return urlunsplit(("", "", current.path, current.query, ""))
    return request.get_full_path()


class ConsoleAdmin(admin.ModelAdmin):
    """A page of the console in place of a changelist; nothing to add, change or delete."""

    #: Permissions a user needs for every URL of this admin.
    required_perms: tuple[str, ...] = (VIEW,)
    page: Callable[..., HttpResponse] = staticmethod(hooks.hooks_page)
    extra: tuple[tuple[str, str, Callable[..., HttpResponse], tuple[str, ...]], ...] = ()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_console_perm(request, VIEW)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_console_perm(request, *self.required_perms)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def console_view(
        self, view: Callable[..., HttpResponse], perms: tuple[str, ...]
    ) -> Callable[..., HttpResponse]:
        """Wrap ``view``: admin login for non-staff, 403 without ``perms``, CSRF, no cache."""

        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_console_perm(request, *perms):
                raise PermissionDenied
            return view(self, request, *args, **kwargs)

        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # A live part polling after the session ended must not swap the login page into
            # a table: send the whole page to the login, and back to that page afterwards
            # (not to the part's URL). Read htmx's headers directly, so that this holds
            # whether or not the project installed django-htmx's middleware.
            if request.headers.get("HX-Request") == "true" and not (
                request.user.is_active and request.user.is_staff
            ):
                login = redirect_to_login(
                    page_path(request),
                    reverse("admin:login", current_app=self.admin_site.name),
                )
                return HttpResponseClientRedirect(login["Location"])
            return protected(request, *args, **kwargs)

        protected = self.admin_site.admin_view(checked)
        return update_wrapper(wrapper, view)

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        urls = [
            path(
                "",
                self.console_view(type(self).page, self.required_perms),
                name="{}_{}_changelist".format(*info),
            )
        ]
        for route, name, view, extra_perms in self.extra:
            urls.append(
                path(
                    route,
                    self.console_view(view, self.required_perms + extra_perms),
                    name=f"{info[0]}_{info[1]}_{name}",
                )
            )
        return urls


@admin.register(models.Hook)
class HookAdmin(ConsoleAdmin):
    page = staticmethod(hooks.hooks_page)
    extra = (("asyncapi.json", "asyncapi", asyncapi_view.asyncapi_download, ()),)


@admin.register(models.Connection)
class ConnectionAdmin(ConsoleAdmin):
    page = staticmethod(connections.connections_page)
    extra = (
        ("rows/", "rows", connections.connections_rows, ()),
        ("<str:sid>/", "detail", connections.connection_detail, ()),
        ("<str:sid>/panel/", "panel", connections.connection_panel, ()),
        ("<str:sid>/disconnect/", "disconnect", connections.connection_disconnect, (DISCONNECT,)),
    )


@admin.register(models.Room)
class RoomAdmin(ConsoleAdmin):
    page = staticmethod(rooms.rooms_page)
    extra = (("rows/", "rows", rooms.rooms_rows, ()),)


@admin.register(models.Traffic)
class TrafficAdmin(ConsoleAdmin):
    page = staticmethod(traffic.traffic_page)
    extra = (
        ("rows/", "rows", traffic.traffic_rows, ()),
        ("stats/", "stats", traffic.traffic_stats, ()),
        ("trace/<str:trace_id>/", "trace", trace.traffic_trace, ()),
    )


@admin.register(models.Inspector)
class InspectorAdmin(ConsoleAdmin):
    required_perms = (VIEW, INSPECT)
    page = staticmethod(inspector.inspector_page)
