"""Permission classes: ``can_connect`` at handshake, ``has_permission`` per request,
``has_object_permission`` per object. DRF's permission classes work here too.

Compose with ``&``, ``|`` and ``~`` as in DRF: ``IsAuthenticated & ~IsAdminUser``.

Each check may be written in any of these shapes (djira reads which one a class uses from
its parameters, once per class; see ``resolve``):

==========================  ===========================================================
check                       accepted signatures
==========================  ===========================================================
``can_connect``             ``(self, sid, environ, auth)`` or ``(self, scope)``
``has_permission``          ``(self, scope)`` or ``(self, request, view)``
``has_object_permission``   ``(self, scope, instance)`` or ``(self, request, view, obj)``
==========================  ===========================================================

In the DRF shapes ``request`` is the ``Scope`` and ``view`` the hook.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from djira.scope import Scope

SAFE_ACTIONS = ("GET", "SUBSCRIPTION", "UNSUBSCRIPTION", "HEAD", "OPTIONS")

CHECKS = ("can_connect", "has_permission", "has_object_permission")


class PermissionSignatureError(TypeError):
    """A permission check whose parameters match none, or several, of the accepted shapes."""


@dataclass(frozen=True, slots=True)
class _Shape:
    #: The documented parameter names (after ``self``), for messages and name checks.
    params: tuple[str, ...]
    #: From djira's canonical arguments to this shape's arguments.
    pick: Callable[..., tuple[Any, ...]]


def _original_connect_args(scope: Scope) -> tuple[Any, ...]:
    # As python-socketio's connect handler gets them: the handshake's own ``auth`` object.
    return (scope.sid, scope.environ, scope.handshake_auth)


# Canonical arguments: can_connect(scope), has_permission(scope, hook),
# has_object_permission(scope, hook, obj). Keyed by the number of positional parameters.
_SHAPES: dict[str, dict[int, _Shape]] = {
    "can_connect": {
        1: _Shape(("scope",), lambda scope: (scope,)),
        3: _Shape(("sid", "environ", "auth"), _original_connect_args),
    },
    "has_permission": {
        1: _Shape(("scope",), lambda scope, hook: (scope,)),
        2: _Shape(("request", "view"), lambda scope, hook: (scope, hook)),
    },
    "has_object_permission": {
        2: _Shape(("scope", "instance"), lambda scope, hook, obj: (scope, obj)),
        3: _Shape(("request", "view", "obj"), lambda scope, hook, obj: (scope, hook, obj)),
    },
}

# A first parameter named like another shape's first parameter means the author had that
# shape in mind: ``can_connect(self, scope, environ=None, auth=None)`` is not the 3-shape.
_FIRST_NAMES: dict[str, dict[int, frozenset[str]]] = {
    "can_connect": {1: frozenset({"sid"}), 3: frozenset({"scope", "request"})},
}


def accepted_signatures(name: str) -> str:
    return " or ".join(
        f"{name}(self, {', '.join(shape.params)})" for shape in _SHAPES[name].values()
    )


Caller = Callable[..., bool]


@cache
def resolve(cls: type, name: str) -> Caller | None:
    """How to call check ``name`` of permission class ``cls`` with djira's arguments.

    Decided once per class from the method's positional parameters: their number picks the
    shape. A method taking ``*args`` gets the richest shape. ``None`` when the class has no
    such method (DRF classes have no ``can_connect``): the check passes.

    :raises PermissionSignatureError: the parameters fit no shape, or fit one only by a
        name that belongs to another (``manage.py check`` reports it as djira.E020).
    """
    method = getattr(cls, name, None)
    if method is None:
        return None
    shapes = _SHAPES[name]
    params: list[inspect.Parameter] | None
    try:
        params = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):  # builtins and C callables: assume the richest shape
        params = None
    count: int | None = max(shapes)
    positional: list[inspect.Parameter] = []
    if params is not None:
        # ``self`` is the first parameter of a plain function found on the class.
        if not isinstance(inspect.getattr_static(cls, name), staticmethod | classmethod):
            params = params[1:]
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = sum(p.default is p.empty for p in positional)
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            fitting = [n for n in shapes if n >= required]
            count = max(fitting) if fitting else None
        else:
            count = len(positional) if len(positional) in shapes else None
    first = positional[0].name if positional else None
    if count is not None and first in _FIRST_NAMES.get(name, {}).get(count, frozenset()):
        count = None
    if count is None:
        shown = ", ".join(["self", *(p.name for p in params or [])])
        raise PermissionSignatureError(
            f"{cls.__module__}.{cls.__qualname__}.{name}({shown}) matches none of the "
            f"accepted signatures: {accepted_signatures(name)}."
        )
    pick = shapes[count].pick

    def call(perm: Any, *args: Any) -> bool:
        return bool(getattr(perm, name)(*pick(*args)))

    return call


def signature_errors(cls: type) -> list[str]:
    """The messages of every check of ``cls`` whose shape cannot be resolved."""
    errors = []
    for name in CHECKS:
        try:
            resolve(cls, name)
        except PermissionSignatureError as exc:
            errors.append(str(exc))
    return errors


def check(perm: Any, name: str, *args: Any) -> bool:
    """Run check ``name`` of any permission object with djira's canonical arguments:
    ``(scope)``, ``(scope, hook)`` or ``(scope, hook, obj)``."""
    caller = resolve(type(perm), name)  # type: ignore[arg-type]
    return True if caller is None else caller(perm, *args)


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


@cache
def _operand(op: type[_Composite], *operands: type) -> type[BasePermission]:
    # A class (not an instance) so composites fit in ``permission_classes`` lists. Cached:
    # ``A & B`` written in a per-request get_permissions() is then one class, resolved once,
    # instead of a new class (and a new entry in resolve's cache) per request.
    name = op.__name__ + "(" + ", ".join(o.__name__ for o in operands) + ")"
    return type(name, (op,), {"operands": operands})


class BasePermission(metaclass=_PermissionMeta):
    """Allow everything; override the checks you need, in any accepted shape.

    ``message`` and ``code`` shape the 403 reply, as in DRF.
    """

    message: str | None = None
    code: str | None = None

    def can_connect(self, scope: Scope) -> bool:
        """May this connection open? ``scope`` has ``sid``, ``environ``, ``auth``, ``user``."""
        return True

    def has_permission(self, scope: Scope, hook: Any) -> bool:
        """May this request run? Called before the hook's body."""
        return True

    def has_object_permission(self, scope: Scope, hook: Any, obj: Any) -> bool:
        """May this request act on ``obj``? Called by ``get_object()``."""
        return True


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

    def has_permission(self, scope: Scope, hook: Any) -> bool:
        return self._all("has_permission", scope, hook)

    def has_object_permission(self, scope: Scope, hook: Any, obj: Any) -> bool:
        return self._all("has_object_permission", scope, hook, obj)


class OR(_Composite):
    def can_connect(self, scope: Scope) -> bool:
        return any(check(p, "can_connect", scope) for p in self.perms)

    def has_permission(self, scope: Scope, hook: Any) -> bool:
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

    def has_permission(self, scope: Scope, hook: Any) -> bool:
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

    def has_permission(self, scope: Scope, hook: Any) -> bool:
        return _authenticated(scope)


class IsAdminUser(BasePermission):
    """Only staff users may connect and call."""

    def can_connect(self, scope: Scope) -> bool:
        return bool(getattr(scope.user, "is_staff", False))

    def has_permission(self, scope: Scope, hook: Any) -> bool:
        return bool(getattr(scope.user, "is_staff", False))


class IsAuthenticatedOrReadOnly(BasePermission):
    """Anyone may read and subscribe; only authenticated users may write."""

    def has_permission(self, scope: Scope, hook: Any) -> bool:
        return scope.action in SAFE_ACTIONS or _authenticated(scope)
