"""Rows of a changelist, rendered by the admin's own code for the user who asks.

A live changelist asks for the rows a push named (``?_djira_pks=1,2`` plus the page's own
query string: filters, search, ordering). The admin builds its ``ChangeList`` for that
request exactly as ``changelist_view`` does, so the same ``get_queryset``, filters and
search apply; each row that matches is rendered with ``items_for_result``, the function
the changelist's template uses, so ``display`` functions, links and formatting are the
page's own. Rows that do not match (deleted, filtered out, hidden from this user) come
back as ``missing``: the page cannot tell these apart, and need not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.templatetags.admin_list import items_for_result
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.http import HttpRequest

PKS = "_djira_pks"
#: The most rows one request renders (a burst of pushes is asked for in several requests).
MAX_PKS = 100


class BadRequest(Exception):
    """The request names bad keys or filters; the message says which."""


def parse_pks(model_admin: ModelAdmin[Any], raw: str) -> list[Any]:
    """The keys of ``raw`` (comma-separated), converted by the model's pk field."""
    texts = [t for t in raw.split(",") if t][:MAX_PKS]
    if not texts:
        raise BadRequest(f"Name the rows as ?{PKS}=1,2,3.")
    field = model_admin.model._meta.pk
    assert field is not None
    try:
        return [field.to_python(text) for text in texts]
    except ValidationError:
        raise BadRequest("Not a valid key for this model.") from None


def render_rows(model_admin: ModelAdmin[Any], request: HttpRequest) -> dict[str, Any]:
    """``{"rows": {pk: cells' HTML}, "missing": [pk, ...], "editable": bool}``.

    ``editable``: the changelist has ``list_editable`` columns, whose inputs belong to the
    page's formset; such a page marks a changed row instead of replacing its cells.
    """
    params = request.GET.copy()
    pks = parse_pks(model_admin, params.pop(PKS, [""])[-1])
    # The rows are looked for in the whole filtered list, not on one page of it: without
    # the page number, a page that deletions emptied is no error.
    params.pop(PAGE_VAR, None)
    # The ChangeList reads its filters from request.GET: give it the page's query only.
    request.GET = params  # type: ignore[assignment]
    try:
        changelist = model_admin.get_changelist_instance(request)
    except IncorrectLookupParameters:
        raise BadRequest("The page's filters are not valid for this list.") from None
    found = changelist.queryset.filter(pk__in=pks)
    rows = {str(obj.pk): "".join(items_for_result(changelist, obj, None)) for obj in found}
    missing = [str(pk) for pk in dict.fromkeys(pks) if str(pk) not in rows]
    return {"rows": rows, "missing": missing, "editable": bool(changelist.list_editable)}
