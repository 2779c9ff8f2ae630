"""``APIHook``: the base of every hook, like DRF's ``APIView`` with viewset routing."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from rest_framework import permissions as drf_permissions
from rest_framework.serializers import BaseSerializer

from djira import exceptions
from djira import permissions as djira_permissions
from djira.decorators import Route
from djira.permissions import check
from djira.response import Response
from djira.server import emit_soon
from djira.settings import jira_settings
from djira.sync import run_sync

if TYPE_CHECKING:
    from djira.scope import Scope
    from djira.server import DjiraServer

# Routes taken when a request names no namespace: (action, has pk) -> mixin method.
CRUD_ROUTES: dict[tuple[str, bool], str] = {
    ("GET", False): "list",
    ("POST", False): "create",
    ("GET", True): "retrieve",
    ("PUT", True): "update",
    ("PATCH", True): "partial_update",
    ("DELETE", True): "destroy",
}


@cache
def _crud_route(method: str, action: str) -> Route:
    return Route(method, method, (action,), False, True)


def _label(obj: Any) -> str:
    """An object as a trace names it: its pk, or its text, bounded."""
    return str(obj.pk if hasattr(obj, "pk") else obj)[:100]


#: Permission classes whose checks read only the request's user (already loaded) and verb:
#: an async route guarded by these alone runs its checks on the loop, without a thread hop.
LOOP_SAFE_PERMISSIONS: frozenset[Any] = frozenset(
    {
        djira_permissions.AllowAny,
        djira_permissions.IsAuthenticated,
        djira_permissions.IsAdminUser,
        djira_permissions.IsAuthenticatedOrReadOnly,
        drf_permissions.AllowAny,
        drf_permissions.IsAuthenticated,
        drf_permissions.IsAdminUser,
        drf_permissions.IsAuthenticatedOrReadOnly,
    }
)
#: The methods through which ``initial`` reaches the policies: overriding any of them makes
#: the checks the hook's own, so they take the thread hop.
_POLICY_METHODS = (
    "initial",
    "check_permissions",
    "check_throttles",
    "get_permissions",
    "get_throttles",
    "_check_each",
)


class APIHook:
    """Handles the requests a client emits on one event name.

    Configuration lives on the class; an instance serves exactly one request and carries
    it as ``self.scope`` (as a DRF view carries ``self.request``).
    """

    #: Event name used when hooks are discovered from ``hooks.py`` (no consumer code needed).
    event: ClassVar[str | None] = None
    permission_classes: Any = None
    throttle_classes: Any = None

    _routes: ClassVar[dict[str, Route]] = {}
    # Whether the class overrides a method of ``_POLICY_METHODS`` (set per class).
    _own_policies: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes: dict[str, Route] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                route = getattr(value, "djira_route", None)
                if isinstance(route, Route):
                    routes[route.name] = route
        cls._routes = routes
        cls._own_policies = any(
            getattr(cls, name) is not getattr(APIHook, name) for name in _POLICY_METHODS
        )

    def __init__(self, scope: Scope, server: DjiraServer | None = None) -> None:
        self.scope = scope
        self.server = server if server is not None else scope.server
        self._route: Route | None = None
        scope.hook = self

    def _break_cycles(self) -> None:
        """Once the request's reply is built: drop the references that make its objects a
        cycle (the scope and its hook point at each other; a generic hook's serializers and
        their fields too: ``djira.serializer_fields.unbind``), so that reference counting
        frees them at once. Left as cycles, every request's objects wait for the cyclic
        garbage collector, and its collections pause every connection of the process."""
        if self.scope.hook is self:
            self.scope.hook = None

    # -- routing --------------------------------------------------------------------------

    @classmethod
    def get_routes(cls) -> dict[str, Route]:
        """Namespaces declared with ``@action``, by name."""
        return cls._routes

    @classmethod
    def get_crud_actions(cls, detail: bool) -> list[str]:
        """Verbs the hook serves without a namespace, on the list or the detail route."""
        return [a for (a, d), m in CRUD_ROUTES.items() if d == detail and hasattr(cls, m)]

    def resolve(self) -> Route:
        """The route for this request, or a 404/405 error."""
        scope = self.scope
        if scope.namespace is None:
            detail = scope.pk is not None
            method = CRUD_ROUTES.get((scope.action, detail))
            if method is None or not hasattr(self, method):
                allowed = self.get_crud_actions(detail)
                if not allowed and not self.get_crud_actions(not detail):
                    raise exceptions.UnknownNamespace(f"'{scope.event}' needs a namespace.")
                raise exceptions.VerbNotAllowed(scope.action, allowed)
            return _crud_route(method, scope.action)
        route = self._routes.get(scope.namespace)
        if route is None:
            raise exceptions.UnknownNamespace(
                f"Unknown namespace '{scope.namespace}' on '{scope.event}'."
            )
        if scope.action not in route.actions:
            raise exceptions.VerbNotAllowed(scope.action, list(route.actions))
        return route

    # -- policies -------------------------------------------------------------------------

    def get_permissions(self) -> list[Any]:
        classes = self.permission_classes
        if classes is None:
            classes = jira_settings.PERMISSION_CLASSES
        return [cls() for cls in classes]

    def get_throttles(self) -> list[Any]:
        classes = self.throttle_classes
        if classes is None:
            classes = jira_settings.THROTTLE_CLASSES
        return [cls() for cls in classes]

    def permission_denied(
        self, scope: Scope, message: str | None = None, code: str | None = None
    ) -> None:
        if not (scope.user and scope.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        raise exceptions.PermissionDenied(detail=message, code=code)

    def check_permissions(self, scope: Scope) -> None:
        """Raise 401/403 unless every permission grants the request (may use the ORM).

        ``scope.user`` is the request's own copy, with no permission cache
        (``djira.handler.request_user``).
        """
        self._check_each("has_permission", scope)

    def check_object_permissions(self, scope: Scope, obj: Any) -> None:
        """Raise 401/403 unless every permission grants access to ``obj``."""
        self._check_each("has_object_permission", scope, obj)

    def _check_each(self, method: str, scope: Scope, *obj: Any) -> None:
        for permission in self.get_permissions():
            granted = check(permission, method, scope, self, *obj)
            if scope.trace is not None:
                name = type(permission).__name__
                event = {"check": method, "granted": granted, "permission": name}
                if obj:
                    event["object"] = _label(obj[0])
                scope.trace.add("permission", **event)
            if not granted:
                self.permission_denied(
                    scope, getattr(permission, "message", None), getattr(permission, "code", None)
                )

    def check_throttles(self, scope: Scope) -> None:
        """Raise 429 when a throttle refuses (DRF throttle classes work)."""
        waits = []
        for throttle in self.get_throttles():
            allowed = throttle.allow_request(scope, self)
            if scope.trace is not None:
                scope.trace.add("throttle", throttle=type(throttle).__name__, allowed=allowed)
            if not allowed:
                waits.append(throttle.wait())
        if waits:
            known = [w for w in waits if w is not None]
            raise exceptions.Throttled(wait=max(known) if known else None)

    def initial(self) -> None:
        """Checks run before the body: permissions, then throttles.

        Leaving a subscription is always allowed: a socket whose permission was revoked
        must still be able to stop receiving pushes.
        """
        if self.scope.action == "UNSUBSCRIPTION":
            return
        self.check_permissions(self.scope)
        self.check_throttles(self.scope)

    # -- running --------------------------------------------------------------------------

    def _apply_route(self, route: Route) -> None:
        self._route = route
        for key, value in route.kwargs.items():
            setattr(self, key, value)

    def _call(self, route: Route) -> Any:
        method = getattr(self, route.attr)
        return method(self.scope) if route.takes_scope else method()

    def _run_sync(self, route: Route) -> Response:
        # All the sync work of a request in one thread hop: checks, body, serialization.
        self.initial()
        return self.finalize(self._call(route))

    async def run(self) -> Response:
        """Resolve, check and run the request's route. A coroutine."""
        route = self.resolve()
        self._apply_route(route)
        if not route.is_async:
            return await run_sync(self._run_sync, route)
        if self._checks_read_only_the_user():
            self.initial()
        else:
            # Permission and throttle checks may use the ORM (DjangoModelPermissions, a
            # cache backed by the database), so they run off the loop, in this
            # connection's lane (djira.sync).
            await run_sync(self.initial)
        return self.finalize(await self._call(route))

    def _checks_read_only_the_user(self) -> bool:
        """Whether ``initial`` may run on the loop: no throttle, and permissions that are
        all exactly one of ``LOOP_SAFE_PERMISSIONS`` (a subclass may query the database:
        it gets the thread hop), through the policy methods as defined here."""
        if self._own_policies:
            return False
        throttles = self.throttle_classes
        if jira_settings.THROTTLE_CLASSES if throttles is None else throttles:
            return False
        classes = self.permission_classes
        if classes is None:
            classes = jira_settings.PERMISSION_CLASSES
        return all(cls in LOOP_SAFE_PERMISSIONS for cls in classes)

    def finalize(self, result: Any) -> Response:
        """Turn what a body returned into a ``Response``."""
        if isinstance(result, Response):
            return result
        status_code = getattr(result, "status_code", None)
        if status_code is not None and hasattr(result, "data"):  # DRF's Response
            return Response(result.data, status_code)
        if isinstance(result, BaseSerializer):
            result = result.data
        action = self.scope.action
        if result is None and action == "SUBSCRIPTION":
            return Response({"rooms": self.scope.subscribed_rooms}, 200)
        if result is None and action == "UNSUBSCRIPTION":
            return Response(None, 204)
        return Response(result, 200)

    # -- emitting -------------------------------------------------------------------------

    def emit(
        self,
        event: str,
        data: Any = None,
        *,
        to: str | None = None,
        room: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Send ``data`` on ``event`` to the requester (or ``to``/``room``), without waiting.

        Works from sync bodies (worker thread) and coroutines alike. Goes through the same
        ordered outbox as observers' pushes: after commit when a transaction is open, at
        once otherwise; recorded in the traffic. ``kwargs``: python-socketio's ``skip_sid``,
        ``namespace``, ``ignore_queue`` (anything else is a ``TypeError``).
        """
        assert self.server is not None, f"'{type(self).__name__}' has no server to emit with."
        emit_soon(self.server, event, data, to=room or to or self.scope.sid, **kwargs)
