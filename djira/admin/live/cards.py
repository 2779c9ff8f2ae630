"""Live cards: small figures over a project's own querysets, on the admin's index pages.

    from djira.admin.live import cards

    cards.register(
        cards.Count("Open tasks", Task.objects.filter(done=False)),
        cards.Sum("Open priority points", Task.objects.filter(done=False), "priority"),
        cards.Recent("Latest tasks", Task.objects.order_by("-created")),
        cards.Sparkline("Done per day", Task.objects.filter(done=True), "completed_at"),
    )

A card's queryset may also be a function of the request, to show each user their own
figures: ``cards.Count("Mine", lambda request: Task.objects.filter(owner=request.user),
model=Task)``. A user sees a card if they may view its model (the ``view`` permission, or
the card's ``perm``); where the model's live admin hides rows from some users (its
``get_queryset``), a card counts only the rows that user's changelist shows. Cards of a
model whose admin is live are refreshed when that admin's live changelist would be told
of a change (the same rooms and permission), by asking the model's admin for the cards
again; the others show the values of when the page loaded.
"""

from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib.admin import ModelAdmin
from django.db.models import Count as CountOf
from django.db.models import Model, QuerySet
from django.db.models import Sum as SumOf
from django.db.models.functions import TruncDate
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from djira.admin.live.registry import get_live_admin

if TYPE_CHECKING:
    from django.http import HttpRequest

Source = QuerySet[Any] | Callable[["HttpRequest"], QuerySet[Any]]

_cards: list[Card] = []


class Card(ABC):
    """A titled figure over ``queryset`` (a queryset, or a function of the request)."""

    template_name = "djira/live/card.html"
    kind = "card"

    def __init__(
        self,
        title: str,
        queryset: Source,
        *,
        model: type[Model] | None = None,
        perm: str | None = None,
    ) -> None:
        self.title = title
        self.source = queryset
        self.perm = perm
        self.id = ""
        if isinstance(queryset, QuerySet):
            model = queryset.model
        assert model is not None, (
            f"Card {title!r}: a queryset given as a function needs its model: "
            "cards.Count(title, function, model=Task)."
        )
        self.model: type[Model] = model

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """The card's rows, within what the model's live admin shows this user."""
        source = self.source
        queryset = source.all() if isinstance(source, QuerySet) else source(request)
        model_admin = get_live_admin(self.model._meta.label_lower)
        if (
            model_admin is not None
            and type(model_admin).get_queryset is not ModelAdmin.get_queryset
        ):
            # The admin hides rows from some users: a card counts only what they may see.
            visible = model_admin.get_queryset(request).order_by().values("pk")
            queryset = queryset.filter(pk__in=visible)
        return queryset

    def has_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        opts = self.model._meta
        perm = self.perm or f"{opts.app_label}.view_{opts.model_name}"
        return bool(user.is_active and user.is_staff and user.has_perm(perm))

    @abstractmethod
    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        """What the card's template shows (each kind of card says)."""

    def render(self, request: HttpRequest) -> str:
        context = {"card": self, **self.get_context(request)}
        return render_to_string(self.template_name, context, request=request)


class Count(Card):
    """How many rows."""

    kind = "count"

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        return {"value": self.get_queryset(request).count()}


class Sum(Card):
    """The sum of a field over the rows (0 for none)."""

    kind = "sum"

    def __init__(self, title: str, queryset: Source, field: str, **options: Any) -> None:
        super().__init__(title, queryset, **options)
        self.field = field

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        total = self.get_queryset(request).aggregate(total=SumOf(self.field))["total"]
        return {"value": total or 0}


class Recent(Card):
    """The first ``limit`` rows, linked to their change forms where the user may open them."""

    kind = "recent"

    def __init__(self, title: str, queryset: Source, *, limit: int = 5, **options: Any) -> None:
        super().__init__(title, queryset, **options)
        self.limit = limit

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        opts = self.model._meta
        items = []
        for obj in self.get_queryset(request)[: self.limit]:
            try:
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            except NoReverseMatch:
                url = ""
            items.append({"label": str(obj), "url": url})
        return {"items": items}


class Sparkline(Card):
    """Rows per day over the last ``days`` days, by ``date_field``, as a small line."""

    kind = "sparkline"
    width, height = 160, 32

    def __init__(
        self, title: str, queryset: Source, date_field: str, *, days: int = 14, **options: Any
    ) -> None:
        super().__init__(title, queryset, **options)
        self.date_field = date_field
        self.days = days

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        today = timezone.localdate()
        first = today - datetime.timedelta(days=self.days - 1)
        since = timezone.make_aware(datetime.datetime.combine(first, datetime.time()))
        counts = dict(
            self.get_queryset(request)
            .filter(**{f"{self.date_field}__gte": since})
            .annotate(day=TruncDate(self.date_field))
            .order_by()
            .values_list("day")
            .annotate(n=CountOf("pk"))
        )
        values = [counts.get(first + datetime.timedelta(days=i), 0) for i in range(self.days)]
        top = max(values) or 1
        step = self.width / max(1, self.days - 1)
        points = " ".join(
            f"{i * step:.1f},{self.height - 2 - v / top * (self.height - 4):.1f}"
            for i, v in enumerate(values)
        )
        return {"value": values[-1], "total": sum(values), "points": points}


def register(*cards: Card) -> None:
    """Show ``cards`` on the admin index (``site.index_template = "djira/live/index.html"``)
    or on their app's index page (``site.app_index_template = "djira/live/app_index.html"``)."""
    for card in cards:
        card.id = f"djira-card-{len(_cards)}"
        _cards.append(card)


def unregister(*cards: Card) -> None:
    for card in cards:
        if card in _cards:
            _cards.remove(card)


def get_cards(
    request: HttpRequest, model: type[Model] | None = None, app_label: str | None = None
) -> list[Card]:
    """The cards ``request.user`` may see (of ``model``, or of ``app_label``'s models, if given)."""
    return [
        card
        for card in _cards
        if (model is None or card.model is model)
        and (app_label is None or card.model._meta.app_label == app_label)
        and card.has_permission(request)
    ]
