"""Who may follow what: the admin's own permission methods, asked for a socket's user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from djira.admin.live.registry import get_live_admin, object_room
from djira.admin.live.watching import watch

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.db.models import Model

    from djira.scope import Scope


def admin_request(scope: Scope) -> HttpRequest:
    """A request carrying the socket's user, for the admin's permission methods."""
    request = HttpRequest()
    request.method = "GET"
    request.user = scope.user  # type: ignore[assignment]
    request.META = {"SERVER_NAME": "djira", "SERVER_PORT": "0"}
    return request


def admin_of(scope: Scope) -> ModelAdmin[Any]:
    """The live admin named by ``data.model``: 400 without one, 404 for an unknown one."""
    data = scope.data
    label = data.get("model") if isinstance(data, dict) else None
    if not isinstance(label, str) or not label:
        raise ValidationError({"model": "Name the model as '<app_label>.<model_name>'."})
    model_admin = get_live_admin(label)
    if model_admin is None:
        raise NotFound(f"No live admin for {label[:100]!r}.")
    return model_admin


def check_staff(scope: Scope) -> HttpRequest:
    user: Any = scope.user
    if not (user is not None and user.is_active and user.is_staff):
        raise PermissionDenied("Live admin pages are for active staff users.")
    return admin_request(scope)


def visible_object(model_admin: ModelAdmin[Any], request: HttpRequest, pk: Any) -> Model:
    """The row ``pk`` as the admin's change view would find it for this user, or 404/403."""
    model = model_admin.model
    try:
        value = model._meta.pk.to_python(pk)
    except (DjangoValidationError, TypeError, ValueError):
        raise ValidationError({"pk": "Not a valid key for this model."}) from None
    obj = model_admin.get_queryset(request).filter(pk=value).first()
    if obj is None:
        raise NotFound()
    if not model_admin.has_view_permission(request, obj):
        raise PermissionDenied()
    return obj


def subscribing_rooms(hook: Any, scope: Scope) -> list[str]:
    """The rooms a live page's socket may join (the observer's ``subscribing_rooms``)."""
    model_admin = admin_of(scope)
    request = check_staff(scope)
    if scope.namespace == "changelist":
        if not model_admin.has_view_permission(request):
            raise PermissionDenied()
        # Raised before joining: the model's saves push from now on (djira.admin.live.watching).
        watch(model_admin.model._meta.label_lower)
        return list(model_admin.get_live_subscribing_rooms(request))  # type: ignore[attr-defined]
    if scope.pk is None:
        raise ValidationError({"pk": "This route needs the row's pk."})
    obj = visible_object(model_admin, request, scope.pk)
    watch(model_admin.model._meta.label_lower)
    return [object_room(model_admin.model, obj.pk)]


def renew(scope: Scope) -> None:
    """Keep the model's flag raised while a page of a user who may view it is open."""
    model_admin = admin_of(scope)
    request = check_staff(scope)
    if not model_admin.has_view_permission(request):
        raise PermissionDenied()
    watch(model_admin.model._meta.label_lower)
