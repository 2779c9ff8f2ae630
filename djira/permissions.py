"""Permission classes: ``can_connect`` at handshake, ``has_permission`` per request,
``has_object_permission`` per object. DRF's permission classes work here too.

Compose with ``&``, ``|`` and ``~`` as in DRF: ``IsAuthenticated & ~IsAdminUser``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from djira._compat import call_flexibly

if TYPE_CHECKING:
    from djira.scope import Scope

SAFE_ACTIONS = ("GET", "SUBSCRIPTION", "UNSUBSCRIPTION", "HEAD", "OPTIONS")


class _PermissionMeta(type):
    def __and__(cls, other: type) -> type[BasePermission]:
        return _operand(AND, cls, other)

    def __or__(cls, other: type) -> type[BasePermission]:
        return _operand(OR, cls, other)

    def __invert__(cls) -> type[BasePermission]:
        return _operand(NOT, cls)

    def __rand__(cls, other: type) -> type[BasePermission]:
        return _operand(AND, other, cls)

    def __ror__(cls, other: type) -> type[BasePermission]:
        return _operand(OR, other, cls)


def _operand(op: type[_Composite], *operands: type) -> type[BasePermission]:
    # A class (not an instance) so composites fit in ``permission_classes`` lists.
    name = op.__name__ + "(" + ", ".join(o.__name__ for o in operands) + ")"
    return type(name, (op,), {"operands": operands})


class BasePermission(metaclass=_PermissionMeta):
    """Allow everything; override the checks you need.

    ``message`` and ``code`` shape the 403 reply, as in DRF.
    """

    message: str | None = None
    code: str | None = None

    def can_connect(self, scope: Scope) -> bool:
        """May this connection open? ``scope`` has ``sid``, ``environ``, ``auth``, ``user``."""
        return True

    def has_permission(self, scope: Scope, hook: Any = None) -> bool:
        return True

    def has_object_permission(self, scope: Scope, hook: Any, obj: Any) -> bool:
        return True


def check(perm: Any, name: str, *args: Any) -> bool:
    """Run one check of any permission object (djira's, DRF's, or seed-style signatures)."""
    method = getattr(perm, name, None)
    if method is None:  # DRF permissions have no ``can_connect``
        return True
    return bool(call_flexibly(method, *args))


class _Composite(BasePermission):
    operands: tuple[type, ...] = ()

    def __init__(self) -> None:
        self.perms = [op() for op in self.operands]


class AND(_Composite):
    def _all(self, name: str, *args: Any) -> bool:
        for perm in self.perms:
            if not check(perm, name, *args):
                # Report the refusing operand's message and code, not a generic one.
                self.message = getattr(perm, "message", None)
                self.code = getattr(perm, "code", None)
                return False
        return True

    def can_connect(self, scope: Scope) -> bool:
        return self._all("can_connect", scope)

    def has_permission(self, scope: Scope, hook: Any = None) -> bool:
        return self._all("has_permission", scope, hook)

    def has_object_permission(self, scope: Scope, hook: Any, obj: Any) -> bool:
        return self._all("has_object_permission", scope, hook, obj)


class OR(_Composite):
    def can_connect(self, scope: Scope) -> bool:
        return any(check(p, "can_connect", scope) for p in self.perms)

    def has_permission(self, scope: Scope, hook: Any = None) -> bool:
        return any(check(p, "has_permission", scope, hook) for p in self.perms)

    def has_object_permission(self, scope: Scope, hook: Any, obj: Any) -> bool:
        # As in DRF: an object passes through an operand that also granted the request.
        return any(
            check(p, "has_permission", scope, hook)
            and check(p, "has_object_permission", scope, hook, obj)
            for p in self.perms
        )


class NOT(_Composite):
    def can_connect(self, scope: Scope) -> bool:
        return not check(self.perms[0], "can_connect", scope)

    def has_permission(self, scope: Scope, hook: Any = None) -> bool:
        return not check(self.perms[0], "has_permission", scope, hook)

    def has_object_permission(self, scope: Scope, hook: Any, obj: Any) -> bool:
        return not check(self.perms[0], "has_object_permission", scope, hook, obj)


class AllowAny(BasePermission):
    """Anyone may connect and call."""


def _authenticated(scope: Scope) -> bool:
    return bool(scope.user and scope.user.is_authenticated)


class IsAuthenticated(BasePermission):
    """Only authenticated users may connect and call."""

    def can_connect(self, scope: Scope) -> bool:
        return _authenticated(scope)

    def has_permission(self, scope: Scope, hook: Any = None) -> bool:
        return _authenticated(scope)


class IsAdminUser(BasePermission):
    """Only staff users may connect and call."""

    def can_connect(self, scope: Scope) -> bool:
        return bool(getattr(scope.user, "is_staff", False))

    def has_permission(self, scope: Scope, hook: Any = None) -> bool:
        return bool(getattr(scope.user, "is_staff", False))


class IsAuthenticatedOrReadOnly(BasePermission):
    """Anyone may read and subscribe; only authenticated users may write."""

    def has_permission(self, scope: Scope, hook: Any = None) -> bool:
        return scope.action in SAFE_ACTIONS or _authenticated(scope)
