"""``BaseObserver``: what model and signal observers share.

An observer is declared on a hook class and bound to it through ``__set_name__``:

    class BookAPIHook(ModelAPIHook):
        @observer(Book, BookSerializer)
        def books(self, **kwargs):
            return None  # send the default push

        @action(actions=["SUBSCRIPTION", "UNSUBSCRIPTION"])
        async def subscribe(self, scope):
            await self.books.subscription(scope)

Rooms are python-socketio rooms, so one emit per room is encoded once and a Redis manager
fans it out to every server process. A socket joins the room
``djira:<hook name>:<route>:<observer>:<room>``: the hook name and route come from the
subscribing request, which is how a push knows the ``event`` and ``namespace`` to carry
without any per-connection state outside python-socketio. A push is emitted to that room
for each name the hook is served under and each route of the hook accepting
``SUBSCRIPTION`` (usually one of each); rooms nobody joined cost nothing locally.
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from djira import exceptions
from djira.observers import transport
from djira.observers.batch import Change
from djira.observers.dispatch import ServerProxy

if TYPE_CHECKING:
    from djira.base import APIHook
    from djira.scope import Scope

logger = logging.getLogger("djira")

#: (user-level room, push type, data) before it is addressed to events and routes.
Item = tuple[str, str, Any]


@lru_cache(maxsize=1024)
def accepted_keywords(func: Callable[..., Any]) -> frozenset[str] | None:
    """Keyword names ``func`` declares, or ``None`` if it takes ``**kwargs`` (cached)."""
    params = inspect.signature(func).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return frozenset(params)


def call_with_accepted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` with the keyword arguments it declares (all of them if it takes ``**``)."""
    names = accepted_keywords(func)
    if names is not None:
        kwargs = {k: v for k, v in kwargs.items() if k in names}
    return func(*args, **kwargs)


def as_rooms(value: Any, where: str) -> list[str]:
    """Normalize what a rooms hook returned (a str, an iterable or a generator) to a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    rooms = list(dict.fromkeys(value))
    for room in rooms:
        if not isinstance(room, str) or not room:
            raise TypeError(f"{where} should yield non-empty strings, not {room!r}.")
    return rooms


class BaseObserver(ABC):
    """A descriptor on a hook class that turns changes into pushes to subscribed sockets.

    :param func: the hook method. It is called once per committed change with the keyword
        arguments it declares among ``instance``, ``action`` (``"create"``, ``"update"`` or
        ``"delete"``), ``data`` and ``rooms``. Return ``None`` to send the default push,
        ``False`` to send nothing (e.g. you emitted your own), or any other value to send
        it as the push's ``data`` instead.
    :param serializer_class: DRF serializer for the push's ``data``.
    """

    def __init__(self, func: Callable[..., Any], serializer_class: Any = None) -> None:
        self.func = func
        self.serializer_class = serializer_class
        self.name = func.__name__
        self.hook_class: type[APIHook] | None = None
        self._rooms: Callable[..., Any] | None = None
        self._subscribing_rooms: Callable[..., Any] | None = None
        self._serializer: Callable[..., Any] | None = None
        self._warned = False
        self._namespaces: list[str] | None = None
        self.__doc__ = func.__doc__

    def __repr__(self) -> str:
        owner = self.hook_class.__qualname__ if self.hook_class else "?"
        return f"<{type(self).__name__} {owner}.{self.name}>"

    # -- binding --------------------------------------------------------------------------

    def __set_name__(self, owner: type[APIHook], name: str) -> None:
        if self.hook_class is not None:  # already bound (an alias in the same class body)
            return
        self.hook_class, self.name = owner, name
        self.connect()

    def __get__(self, hook: Any, owner: type | None = None) -> Any:
        if hook is None:
            return self
        return BoundObserver(self, hook)

    @property
    def uid(self) -> str:
        """A name stable across processes, used for signal ``dispatch_uid``s."""
        owner = self.hook_class
        return f"djira:{owner.__module__}.{owner.__qualname__}.{self.name}" if owner else self.name

    @abstractmethod
    def connect(self) -> None:
        """Connect the signals (strong references). Called when the hook class is created."""

    # -- the seed's decorators ------------------------------------------------------------

    def rooms(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Declare the rooms a change goes to: ``def f(self, instance)`` yields room names."""
        self._rooms = func
        return func

    def subscribing_rooms(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Declare the rooms a scope may join (the object permission): ``def f(self, scope)``."""
        self._subscribing_rooms = func
        return func

    def serializer(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Declare the push data: ``def f(self, instance, action)`` returns a JSON-able value."""
        self._serializer = func
        return func

    # -- hooks used by subclasses ---------------------------------------------------------

    def default_subscribing_rooms(self, hook: Any, scope: Scope) -> list[str]:
        return [self.name]

    def get_subscribing_rooms(self, hook: Any, scope: Scope) -> list[str]:
        """Rooms ``scope`` may join (sync: may use the ORM)."""
        if self._subscribing_rooms is None:
            return self.default_subscribing_rooms(hook, scope)
        where = f"'{self.name}' subscribing_rooms"
        return as_rooms(self._subscribing_rooms(hook, scope), where)

    async def aget_subscribing_rooms(self, hook: Any, scope: Scope) -> list[str]:
        func = self._subscribing_rooms
        if func is not None and inspect.iscoroutinefunction(func):
            return as_rooms(await func(hook, scope), f"'{self.name}' subscribing_rooms")
        # One thread hop for whatever ORM work the rooms need.
        return await sync_to_async(self.get_subscribing_rooms)(hook, scope)

    def get_context_hook(self) -> Any:
        """The ``self`` given to rooms/serializer hooks at push time: a hook with no scope.

        There is no request when a change is pushed, so ``scope`` is ``None``.
        """
        assert self.hook_class is not None, f"{self!r} should be declared on a hook class."
        hook: Any = object.__new__(self.hook_class)
        hook.scope = None  # no request at push time
        # ``self.server.emit(...)`` from a body or hook: sync, after commit, any process.
        hook.server = ServerProxy()
        hook._route = None
        return hook

    @abstractmethod
    def changes_to_items(self, hook: Any, change: Change) -> list[Item]:
        """The (room, type, data) a committed change sends, before the method body runs."""

    # -- addressing -----------------------------------------------------------------------

    def sio_room(self, event: str, namespace: str | None, room: str) -> str:
        """The python-socketio room a socket subscribed through ``event``/``namespace`` joins."""
        return f"djira:{event}:{namespace or ''}:{self.name}:{room}"

    def get_events(self) -> list[str]:
        """Names the hook is served under in this process (and its ``event``)."""
        owner = self.hook_class
        assert owner is not None
        consumer = getattr(transport.get_server(), "djira_consumer", None)
        names: list[str] = []
        if consumer is not None:
            names = [name for name, cls in consumer.hooks.items() if issubclass(cls, owner)]
        event = getattr(owner, "event", None)
        if event and event not in names:
            names.append(event)
        if not names and not self._warned:
            self._warned = True
            logger.warning(
                "%r cannot push from this process: '%s' has no name here. Set `event` on "
                "the hook class so processes without a consumer know it.",
                self,
                owner.__qualname__,
            )
        return names

    def get_namespaces(self) -> list[str]:
        """Routes of the hook that accept ``SUBSCRIPTION`` and may subscribe this observer.

        A route whose body names another observer of the hook but not this one (``await
        self.other.subscribe(scope)``) is left out, so a hook with several observers does not
        emit each change to every route's rooms. Routes that name none (they may subscribe
        through a helper) are kept.
        """
        if self._namespaces is None:
            owner = self.hook_class
            assert owner is not None
            observers = {
                name
                for klass in owner.__mro__
                for name, value in vars(klass).items()
                if isinstance(value, BaseObserver)
            }
            namespaces = []
            for route in owner.get_routes().values():
                if "SUBSCRIPTION" not in route.actions:
                    continue
                code = getattr(getattr(owner, route.attr, None), "__code__", None)
                named = set(code.co_names) & observers if code is not None else set()
                if not named or self.name in named:
                    namespaces.append(route.name)
            self._namespaces = namespaces
        return self._namespaces

    # -- delivery -------------------------------------------------------------------------

    def run_body(self, hook: Any, change: Change, items: list[Item]) -> list[Item]:
        """Call the method body; apply what it returned to the default items."""
        rooms = list(dict.fromkeys(room for room, _, _ in items))
        data = items[0][2] if items else change.data
        kwargs = {
            **change.extra,
            "instance": change.instance,
            "action": change.type,
            "data": data,
            "rooms": rooms,
        }
        result = call_with_accepted(self.func, hook, **kwargs)
        if result is None:
            return items
        if result is False:
            return []
        return [(room, kind, result) for room, kind, _ in items]

    def deliver(self, changes: list[Change]) -> None:
        """Send the pushes of committed ``changes`` (runs in the committing thread)."""
        hook = self.get_context_hook()
        addresses = [(e, n) for e in self.get_events() for n in self.get_namespaces()]
        pushes: list[transport.Push] = []
        for change in changes:
            try:
                items = self.run_body(hook, change, self.changes_to_items(hook, change))
            except Exception:
                # One bad change must not cost the others their pushes.
                logger.exception("%r failed on a %s change", self, change.type)
                continue
            for room, kind, data in items:
                for event, namespace in addresses:
                    payload = {
                        "status": 200,
                        "event": event,
                        "namespace": namespace,
                        "action": "SUBSCRIPTION",
                        "type": kind,
                        "room": room,
                        "data": data,
                    }
                    to = self.sio_room(event, namespace, room)
                    pushes.append(transport.Push(event, payload, to, label=room))
        transport.send(pushes)


class BoundObserver:
    """An observer seen from a hook instance: ``await self.books.subscribe(scope)``."""

    def __init__(self, observer: BaseObserver, hook: Any) -> None:
        self.observer = observer
        self.hook = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self.observer, name)

    def _scope(self, scope: Scope | None) -> Scope:
        scope = scope if scope is not None else self.hook.scope
        assert scope is not None, f"{self.observer!r}: subscribe from a request's scope."
        return scope

    def _server(self, scope: Scope) -> Any:
        server = self.hook.server or scope.server or transport.get_server()
        return server.server if isinstance(server, ServerProxy) else server

    async def subscribe(self, scope: Scope | None = None) -> list[str]:
        """Join the rooms ``subscribing_rooms(scope)`` allows; return them. A coroutine.

        The rooms are also added to ``scope.subscribed_rooms``, which the route's reply
        names when its body returns ``None``.
        """
        scope = self._scope(scope)
        if scope.action != "SUBSCRIPTION":
            raise exceptions.VerbNotAllowed(scope.action, ["SUBSCRIPTION"])
        rooms = await self.observer.aget_subscribing_rooms(self.hook, scope)
        server = self._server(scope)
        for room in rooms:
            await server.enter_room(
                scope.sid, self.observer.sio_room(scope.event, scope.namespace, room)
            )
            if room not in scope.subscribed_rooms:
                scope.subscribed_rooms.append(room)
        return rooms

    async def unsubscribe(self, scope: Scope | None = None) -> list[str]:
        """Leave the rooms joined through this route; twice is not an error. A coroutine."""
        scope = self._scope(scope)
        server = self._server(scope)
        prefix = self.observer.sio_room(scope.event, scope.namespace, "")
        left: list[str] = []
        for sio_room in server.rooms(scope.sid):
            if sio_room.startswith(prefix):
                await server.leave_room(scope.sid, sio_room)
                left.append(sio_room[len(prefix) :])
        return left

    async def subscription(self, scope: Scope | None = None) -> list[str]:
        """``subscribe`` or ``unsubscribe``, following the request's action. A coroutine."""
        scope = self._scope(scope)
        if scope.action == "UNSUBSCRIPTION":
            return await self.unsubscribe(scope)
        return await self.subscribe(scope)
