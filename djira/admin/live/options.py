"""``LiveModelAdminMixin``: a ``ModelAdmin`` whose changelist and change form are live.

    from djira.admin.live.options import LiveModelAdminMixin

    @admin.register(Task)
    class TaskAdmin(LiveModelAdminMixin, admin.ModelAdmin):
        list_display = ["title", "owner", "done"]

docs/admin.md ("Live admin pages") describes what the pages do and what they cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.templatetags.static import static
from django.urls import URLPattern, path

from djira.admin.live import hooks  # noqa: F401 - the socket side, found by hook discovery
from djira.admin.live.cards import get_cards
from djira.admin.live.observers import make_live
from djira.admin.live.registry import model_room
from djira.admin.live.rows import BadRequest, render_rows
from djira.admin.live.versions import FIELD, LiveVersionForm, version_of
from djira.admin.live.watching import RENEW, SETTLE, watch
from djira.settings import jira_settings

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.db.models import Model

    _Base = ModelAdmin[Any]
else:
    _Base = object


def _default(func: Any) -> Any:
    func.djira_default = True  # registry.partitions: not overridden
    return func


class LiveModelAdminMixin(_Base):
    """Live changelist (rows update, deletes struck through, new rows announced) and a
    change form with presence, a banner on others' saves and a conflict check on save."""

    change_list_template = "djira/live/change_list.html"
    change_form_template = "djira/live/change_form.html"
    #: Check on save that nobody else saved the form's fields since it was opened.
    live_conflicts: bool = True

    def __init__(self, model: type[Model], admin_site: Any) -> None:
        super().__init__(model, admin_site)
        make_live(self)

    # -- rooms: who hears of a change ------------------------------------------------------

    @_default
    def get_live_rooms(self, obj: Model) -> Iterable[str]:
        """Rooms of ``obj``'s changes. Override with ``get_live_subscribing_rooms`` when
        ``get_queryset`` hides rows from some users, so that rooms partition the rows."""
        return [model_room(self.model)]

    def get_live_subscribing_rooms(self, request: HttpRequest) -> Iterable[str]:
        """Rooms a changelist of ``request.user`` follows (``has_view_permission`` is
        already checked)."""
        return [model_room(self.model)]

    # -- URLs and pages --------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        live = path(
            "djira-live/rows/",
            self.admin_site.admin_view(self.live_rows_view),
            name="{}_{}_djira_live_rows".format(*info),
        )
        cards = path(
            "djira-live/cards/",
            self.admin_site.admin_view(self.live_cards_view),
            name="{}_{}_djira_live_cards".format(*info),
        )
        # Before the admin's own: its catch-all "<path:object_id>/" would take these paths.
        return [live, cards, *super().get_urls()]

    def live_rows_view(self, request: HttpRequest) -> HttpResponse:
        """The cells of the rows ``?_djira_pks=`` names, as this user's changelist renders
        them with the page's filters (djira.admin.live.rows)."""
        if not self.has_view_permission(request):
            return JsonResponse({"detail": "You may not view these rows."}, status=403)
        try:
            return JsonResponse(render_rows(self, request))
        except BadRequest as error:
            return JsonResponse({"detail": str(error)}, status=400)

    def live_cards_view(self, request: HttpRequest) -> HttpResponse:
        """The model's live cards this user may see, rendered: ``{"cards": {id: html}}``."""
        found = get_cards(request, self.model)
        return JsonResponse({"cards": {card.id: card.render(request) for card in found}})

    def live_context(self, request: HttpRequest, pk: Any = None) -> dict[str, Any]:
        """What a live page's script needs, as ``data-*`` attributes."""
        return {
            "djira_live": {
                "model": self.opts.label_lower,
                "pk": "" if pk is None else str(pk),
                "client": static("djira/js/client.js"),
                "path": "/" + str(jira_settings.SOCKETIO_PATH).strip("/"),
                "user": str(getattr(request.user, "pk", "")),
                "name": str(self.opts.verbose_name),
                # ms: when the page asks for its rows again, and renews the model's flag.
                "settle": int(SETTLE * 1000),
                "renew": int(RENEW * 1000),
                "versionField": FIELD,
            }
        }

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if self.has_view_permission(request):
            # Before the rows are read: saves from now on push (djira.admin.live.watching).
            watch(self.opts.label_lower)
        context = {**self.live_context(request), **(extra_context or {})}
        response = super().changelist_view(request, context)
        data = getattr(response, "context_data", None)
        if data and "cl" in data and "djira_live" in data:
            # Which row is which: the page's rows, in the order the table shows them.
            data["djira_live"]["pks"] = [str(obj.pk) for obj in data["cl"].result_list]
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if self.has_view_permission(request):
            watch(self.opts.label_lower)  # before the row is read, as for the changelist
        return super().change_view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if obj is None or not self.live_conflicts:
            return form
        return type(form.__name__, (LiveVersionForm, form), {})

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Model | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            context.update(self.live_context(request, obj.pk))
            form = context["adminform"].form
            if isinstance(form, LiveVersionForm):
                # After a POST, the version ``clean`` read (the instance now holds the
                # posted values); on a GET, the row as the form shows it.
                version = form.djira_version or version_of(obj, form.version_fields())
                context["djira_live_version"] = version
                context["djira_live_version_field"] = FIELD
        return super().render_change_form(request, context, add, change, form_url, obj)
