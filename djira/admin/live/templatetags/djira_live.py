"""``{% djira_live_cards [app_label] %}``: the live cards the user may see (cards.py)."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse

from djira.admin.live.cards import get_cards
from djira.admin.live.registry import get_live_admin
from djira.admin.live.watching import RENEW, SETTLE, watch
from djira.settings import jira_settings

register = template.Library()


@register.simple_tag(takes_context=True)
def djira_live_cards(context: dict[str, Any], app_label: str | None = None) -> str:
    """The cards (of the models of ``app_label`` only, on an app's index page)."""
    request = context["request"]
    cards = get_cards(request, app_label=app_label)
    if not cards:
        return ""
    # Models whose admin is live: their cards follow the admin's pushes.
    followed: dict[str, str] = {}
    for card in cards:
        opts = card.model._meta
        if get_live_admin(opts.label_lower) is None or opts.label_lower in followed:
            continue
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_djira_live_cards")
        except NoReverseMatch:
            continue
        followed[opts.label_lower] = url
        watch(opts.label_lower)  # before the cards are read (djira.admin.live.watching)
    config = {
        "client": static("djira/js/client.js"),
        "path": "/" + str(jira_settings.SOCKETIO_PATH).strip("/"),
        "models": followed,
        "settle": int(SETTLE * 1000),
        "renew": int(RENEW * 1000),
    }
    rendered = [card.render(request) for card in cards]
    return render_to_string(
        "djira/live/cards.html", {"cards": rendered, "djira_live": config}, request=request
    )
