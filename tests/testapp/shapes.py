"""Permission classes in each accepted shape, and hooks guarded by them.

Each class grants a request whose ``headers`` say ``{"allow": "yes"}``, an object whose title
is not "forbidden", and a connection whose handshake ``auth`` says ``{"pass": "yes"}``; each
checks that it was handed what its shape promises (the hook, the object, the environ).
"""

from djira.hooks import APIHook, ModelAPIHook
from djira.permissions import BasePermission
from djira.scope import Scope

from .models import Book
from .serializers import BookSerializer


def _granted(scope):
    return scope.headers.get("allow") == "yes"


class OriginalShape(BasePermission):
    """The original djira README's signatures."""

    message = "original says no"

    def can_connect(self, sid, environ, auth):
        assert isinstance(sid, str) and "REMOTE_ADDR" in environ
        return (auth or {}).get("pass") == "yes"

    def has_permission(self, scope):
        assert isinstance(scope, Scope)
        return _granted(scope)

    def has_object_permission(self, scope, instance):
        assert isinstance(instance, Book)
        return instance.title != "forbidden"


class DrfShape(BasePermission):
    """DRF's signatures: ``request`` is the scope, ``view`` the hook."""

    message = "drf says no"

    def has_permission(self, request, view):
        assert isinstance(request, Scope) and isinstance(view, APIHook)
        return _granted(request)

    def has_object_permission(self, request, view, obj):
        assert isinstance(view, APIHook) and isinstance(obj, Book)
        return obj.title != "forbidden"


class DjiraShape(BasePermission):
    """djira's documented signatures."""

    message = "djira says no"

    def can_connect(self, scope):
        assert isinstance(scope, Scope)
        return (scope.handshake_auth or {}).get("pass") == "yes"

    def has_permission(self, scope, hook):
        assert isinstance(hook, APIHook)
        return _granted(scope)

    def has_object_permission(self, scope, hook, obj):
        assert isinstance(hook, APIHook) and isinstance(obj, Book)
        return obj.title != "forbidden"


class AlwaysNo(BasePermission):
    message = "never"

    def has_permission(self, scope):
        return False

    def has_object_permission(self, scope, instance):
        return False


def _hook(name, permission_classes):
    attrs = {"queryset": Book.objects.all(), "serializer_class": BookSerializer}
    if permission_classes is not None:
        attrs["permission_classes"] = permission_classes
    return type(name, (ModelAPIHook,), attrs)


HOOKS = {
    "shape_original": _hook("OriginalHook", [OriginalShape]),
    "shape_drf": _hook("DrfHook", [DrfShape]),
    "shape_djira": _hook("DjiraHook", [DjiraShape]),
    # Composed across shapes: (original AND drf) OR never, and NOT never AND djira.
    "shape_or": _hook("OrHook", [(OriginalShape & DrfShape) | AlwaysNo]),
    "shape_not": _hook("NotHook", [~AlwaysNo & DjiraShape]),
    # No permission_classes: PERMISSION_CLASSES applies.
    "shape_default": _hook("DefaultHook", None),
}
