"""``BaseObserver``: what model and signal observers share.

An observer is declared on a hook class and bound to it through ``__set_name__``:

    class BookAPIHook(ModelAPIHook):
        @observer(Book, BookSerializer)
        def books(self, **kwargs):
            return None  # send the default push

        @action(actions=["SUBSCRIPTION"])    # UNSUBSCRIPTION is implied
        async def subscribe(self, scope):
            await self.books.subscription(scope)

A committed change becomes one ``Push`` (djira.delivery) per room, addressed by the observer's
``uid`` (the same in every process that imports the hook class), never by a hook name:
the process that saved may not know any (a shell, a worker; hooks registered with
``consumer.register`` in ``asgi.py``). Each server turns the push into emits to the sockets
that subscribed on it, with the hook name and route they subscribed through
(``subscriptions``).
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from djira import exceptions
from djira.delivery import get_server, history, local, outbox, presence, registry, subscriptions
from djira.delivery.backends import get_backend
from djira.delivery.local import push_payload
from djira.delivery.messages import Message, Push
from djira.observers.batch import Change
from djira.observers.dispatch import ServerProxy
from djira.sync import run_sync

if TYPE_CHECKING:
    from djira.base import APIHook
    from djira.scope import Scope

logger = logging.getLogger("djira")

#: (user-level room, push type, data): what a change sends, before any socket is addressed.
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

    #: Push ``join``/``leave`` to a room's subscribers as connections enter and leave it
    #: (``@observer(..., presence=True)``). Who is present is known either way.
    announce_presence: bool = False

    def __init__(self, func: Callable[..., Any], serializer_class: Any = None) -> None:
        self.func = func
        self.serializer_class = serializer_class
        self.name = func.__name__
        self.hook_class: type[APIHook] | None = None
        self._rooms: Callable[..., Any] | None = None
        self._subscribing_rooms: Callable[..., Any] | None = None
        self._serializer: Callable[..., Any] | None = None
        self.__doc__ = func.__doc__

    def __repr__(self) -> str:
        owner = self.hook_class.__qualname__ if self.hook_class else "?"
        return f"<{type(self).__name__} {owner}.{self.name}>"

    # -- binding --------------------------------------------------------------------------

    def __set_name__(self, owner: type[APIHook], name: str) -> None:
        if self.hook_class is not None:  # already bound (an alias in the same class body)
            return
        self.hook_class, self.name = owner, name
        registry.add(self.uid, self)
        self.connect()

    def __get__(self, hook: Any, owner: type | None = None) -> Any:
        if hook is None:
            return self
        return BoundObserver(self, hook)

    @property
    def uid(self) -> str:
        """The observer's identity in every process: pushes are addressed by it.

        ``<module>.<hook class>.<attribute>``; with ``djira:`` in front, the prefix of its
        signals' dispatch uids.
        """
        owner = self.hook_class
        return f"{owner.__module__}.{owner.__qualname__}.{self.name}" if owner else self.name

    @abstractmethod
    def connect(self) -> None:
        """Connect the signals (strong references). Called when the hook class is created."""

    # -- the original djira README's decorators -----------------------------------------
    # Each returns the observer, as ``property.setter`` returns the property: decorating a
    # method that reuses the observer's name rebinds that name to the observer, not to the
    # plain function (which would leave the class without its observer).

    def rooms(self, func: Callable[..., Any]) -> BaseObserver:
        """Declare the rooms a change goes to: ``def f(self, instance)`` yields room names."""
        self._rooms = func
        return self

    def subscribing_rooms(self, func: Callable[..., Any]) -> BaseObserver:
        """Declare the rooms a scope may join (the object permission): ``def f(self, scope)``."""
        self._subscribing_rooms = func
        return self

    def serializer(self, func: Callable[..., Any]) -> BaseObserver:
        """Declare the push data: ``def f(self, instance, action)`` returns a JSON-able value."""
        self._serializer = func
        return self

    # -- hooks used by subclasses ---------------------------------------------------------

    def default_subscribing_rooms(self, hook: Any, scope: Scope) -> list[str]:
        return [self.name]

    def default_rooms_need_orm(self, hook: Any, scope: Scope) -> bool:
        """Whether ``default_subscribing_rooms(hook, scope)`` may use the ORM, so must run on
        a worker thread. Override it too when an override of those rooms queries."""
        return False

    def get_subscribing_rooms(self, hook: Any, scope: Scope) -> list[str]:
        """Rooms ``scope`` may join (sync: may use the ORM)."""
        if self._subscribing_rooms is None:
            return self.default_subscribing_rooms(hook, scope)
        where = f"'{self.name}' subscribing_rooms"
        return as_rooms(self._subscribing_rooms(hook, scope), where)

    async def aget_subscribing_rooms(self, hook: Any, scope: Scope) -> list[str]:
        func = self._subscribing_rooms
        if func is None and not self.default_rooms_need_orm(hook, scope):
            # A room named without a lookup (``"book"``): no worker-thread hop for it.
            return self.default_subscribing_rooms(hook, scope)
        if func is not None and inspect.iscoroutinefunction(func):
            return as_rooms(await func(hook, scope), f"'{self.name}' subscribing_rooms")
        # Whatever ORM work the rooms need runs as a request's does: on a worker thread,
        # between close_old_connections() (so a database restart costs one failure at most).
        return await run_sync(self.get_subscribing_rooms, hook, scope)

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
        outbox.send(self.pushes_of(changes))

    def pushes_of(self, changes: list[Change]) -> list[Message]:
        """The pushes ``changes`` send: rooms, method body and serializer applied."""
        hook = self.get_context_hook()
        uid = self.uid
        pushes: list[Message] = []
        for change in changes:
            try:
                items = self.run_body(hook, change, self.changes_to_items(hook, change))
            except Exception:
                # One bad change must not cost the others their pushes.
                logger.exception("%r failed on a %s change", self, change.type)
                continue
            pushes += [Push(uid, room, kind, data) for room, kind, data in items]
        return pushes


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
        server = self.hook.server or scope.server or get_server()
        return server.server if isinstance(server, ServerProxy) else server

    async def subscribe(self, scope: Scope | None = None) -> list[str]:
        """Join the rooms ``subscribing_rooms(scope)`` allows; return them. A coroutine.

        The rooms are also added to ``scope.subscribed_rooms``, which the route's reply
        names when its body returns ``None``. Subscribing again with the same parameters
        is the same subscription.
        """
        scope = self._scope(scope)
        if scope.action != "SUBSCRIPTION":
            raise exceptions.VerbNotAllowed(scope.action, ["SUBSCRIPTION"])
        since = history.parse_since(scope.since)  # 400 before joining anything
        rooms = await self.observer.aget_subscribing_rooms(self.hook, scope)
        server = self._server(scope)
        # The backend is ready for it: listening to other processes, caught up with what
        # was numbered before (docs/observers.md, "Delivery backends").
        await get_backend().prepare(server)
        await subscriptions.join(server, scope, self.observer.uid, rooms)
        # Read after joining: a push numbered after the read reaches the socket live.
        await self._catch_up(server, scope, rooms, since)
        for room in rooms:
            if room not in scope.subscribed_rooms:
                scope.subscribed_rooms.append(room)
        return rooms

    async def _catch_up(
        self, server: Any, scope: Scope, rooms: list[str], since: dict[str, history.Position]
    ) -> None:
        """Emit what the socket missed since ``since``; note the rooms' positions on ``scope``.

        The missed pushes are emitted before the reply leaves, so the client has them all
        once the reply comes. A live push may overtake them or repeat one: clients order and
        de-duplicate by offset (protocol.md).
        """
        uid = self.observer.uid
        # One catch-up at a time per socket, written no faster than it reads (paced by its
        # queue's bound): 30 requests for an old ``since`` cost one history read at a time.
        async with local.catching_up(server, scope.sid) as queue:
            found = await get_backend().read(server, uid, rooms, since)
            if found is None:  # history off, or Redis unreachable: no position to give
                if since:
                    scope.recovered = False
                return
            positions = scope.positions if scope.positions is not None else {}
            recovered = scope.recovered is not False
            for room, caught in found.items():
                positions[room] = caught.position.as_wire()
                if room not in since:
                    continue
                recovered = recovered and caught.recovered
                for entry in caught.entries:
                    push = Push(uid, room, entry.type, entry.data)
                    push = push._replace(epoch=caught.position.epoch, offset=entry.offset)
                    payload = push_payload(scope.event, scope.namespace, push)
                    if not await local.send_paced(server, scope.sid, scope.event, payload, queue):
                        break
                caught.entries = []  # sent: not kept while the next room's are
        scope.positions = positions
        if since:
            # Rooms of ``since`` this observer does not join are another observer's (a route
            # may subscribe to several) or no longer allowed: neither is this one's to judge.
            scope.recovered = recovered

    async def unsubscribe(self, scope: Scope | None = None) -> list[str]:
        """Leave the rooms of the subscription made with the same parameters. A coroutine.

        Rooms that another subscription of the socket still holds stay joined. Without
        ``pk``, ``query`` or ``data`` (and no subscription made exactly so), every
        subscription of the socket through this route is left. Leaving twice is not an
        error; leaving needs no permission to join.
        """
        scope = self._scope(scope)
        return await subscriptions.leave(self._server(scope), scope, self.observer.uid)

    async def subscription(self, scope: Scope | None = None) -> list[str]:
        """``subscribe`` or ``unsubscribe``, following the request's action. A coroutine."""
        scope = self._scope(scope)
        if scope.action == "UNSUBSCRIPTION":
            return await self.unsubscribe(scope)
        return await self.subscribe(scope)

    async def presence(self, room: str) -> dict[str, Any]:
        """Who is subscribed to ``room`` of this observer, on every server. A coroutine.

        ``{"room", "connections", "users": [{"id", "username", "connections"}],
        "anonymous"}`` (docs/observers.md, "Presence"). Across processes with
        ``REDIS_URL``; this process's sockets otherwise.
        """
        server = self._server_any()
        return (await presence.of_rooms(server, [(self.observer.uid, room)]))[0]

    async def presence_of(self, scope: Scope | None = None) -> list[dict[str, Any]]:
        """The presence of each room ``scope`` may join (``subscribing_rooms``). A coroutine.

        For a route clients call to ask: the same rooms, and so the same permission, as
        subscribing with the same parameters.
        """
        scope = self._scope(scope)
        rooms = await self.observer.aget_subscribing_rooms(self.hook, scope)
        keys = [(self.observer.uid, room) for room in rooms]
        return await presence.of_rooms(self._server(scope), keys)

    def _server_any(self) -> Any:
        scope = self.hook.scope
        if scope is not None:
            return self._server(scope)
        server = self.hook.server or get_server()
        return server.server if isinstance(server, ServerProxy) else server
