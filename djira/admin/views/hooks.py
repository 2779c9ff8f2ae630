"""The Hooks page: every hook the server serves, its actions, permissions and rooms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from djira.admin.catalog import get_catalog
from djira.admin.state import get_consumer
from djira.admin.views.common import context

if TYPE_CHECKING:
    from djira.admin.options import ConsoleAdmin


def hooks_page(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    hooks = get_catalog(get_consumer().hooks)
    return render(request, "djira/admin/hooks.html", context(admin, request, "Hooks", hooks=hooks))
