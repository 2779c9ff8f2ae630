"""The Inspector page: send a request to any hook from the browser, as yourself or (for a
superuser, when ``INSPECTOR_ACT_AS`` allows) as another user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from djira.admin.actas import ActAsAuthentication
from djira.admin.catalog import get_catalog
from djira.admin.state import get_consumer
from djira.admin.views.common import context
from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.admin.options import ConsoleAdmin

#: Users offered in the inspector's "Act as" list (the first ones by username).
MAX_ACT_AS_USERS = 500


def act_as_users(request: HttpRequest) -> list[dict[str, Any]] | None:
    """Users a superuser may act as in the inspector; ``None`` when acting is not offered."""
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
