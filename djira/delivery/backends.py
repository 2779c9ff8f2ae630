"""The delivery backends: one interface, chosen by ``DELIVERY_BACKEND`` (djira.delivery).

The outbox, subscriptions and the server ask the backend, never "is there Redis":

- ``submit``: take messages as they are sent; return those left for this server's ordered
  outbox (the database backend writes its own rows and leaves only ``ignore_queue`` emits);
- ``stamp``: number the outbox's pushes before this server's sockets get them;
- ``carry``: once delivered here, carry them to the other processes;
- ``publish_elsewhere``: send from a process with no server loop (a shell, a worker);
- ``read``: a room's position and what a client at ``since`` missed;
- ``prepare``: before a subscription joins (listen, or catch up with what was numbered);
- ``connected``: a server's first connections (start what reads other processes' pushes).
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from djira import json as djira_json
from djira.delivery.history import (
    CatchUp,
    Entry,
    Position,
    catch_up,
    get_memory_history,
    settings_size_ttl,
    stream_key,
)
from djira.delivery.messages import Emit, Message, Push
from djira.delivery.presence_stores import DatabasePresence, PresenceStore, RedisPresence
from djira.delivery.processes import DatabaseRegistry, RedisRegistry, Registry

if TYPE_CHECKING:
    from djira.delivery import Kind
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

NO_ONE = (
    "djira: a change was committed in a process that serves no sockets (a shell, a worker, "
    "a WSGI process) and DJIRA_SETTINGS['DELIVERY_BACKEND'] is 'memory', so no subscriber "
    "can receive its pushes. Use the 'database' backend (the default without REDIS_URL) or "
    "'redis' with REDIS_URL. Said once per process."
)


def _shared(messages: list[Message]) -> list[Message]:
    """What may leave this process: all but ``ignore_queue`` emits."""
    return [m for m in messages if not (isinstance(m, Emit) and m.local)]


class Backend:
    """The interface, and the memory backend's behaviour that the others build on: one
    process, history in memory. Subclass it (or a subclass) and name the subclass in
    ``DELIVERY_BACKEND``."""

    kind: Kind = "memory"
    #: Whether an observed change's pushes are written inside its transaction.
    writes_in_transaction = False

    def __init__(self) -> None:
        self.warned = False

    @cached_property
    def registry(self) -> Registry:
        """Where live processes publish their heartbeat (djira.delivery.processes)."""
        return Registry()

    @cached_property
    def presence(self) -> PresenceStore:
        """Where servers share who is in which room (djira.delivery.presence_stores)."""
        return PresenceStore()

    def submit(self, messages: list[Message], server: DjiraServer) -> list[Message]:
        return messages

    async def stamp(self, server: DjiraServer, messages: list[Message]) -> list[Message]:
        memory = get_memory_history(server)
        if memory is None:
            return messages
        return [memory.stamp(m) if isinstance(m, Push) else m for m in messages]

    def admit(self, server: DjiraServer, messages: list[Message]) -> list[Message]:
        """What of the stamped ``messages`` this server's sockets get now (all, here)."""
        return messages

    def carry(self, server: DjiraServer, messages: list[Message]) -> None:
        """Nothing leaves the process."""

    def publish_elsewhere(self, messages: list[Message], server: DjiraServer) -> None:
        if server.djira_consumer is not None:
            # A server process that no socket has reached yet: nobody to tell, nothing wrong.
            logger.debug("djira: no socket connected to this process yet; push dropped")
        elif _shared(messages) and not self.warned:
            self.warned = True
            logger.warning(NO_ONE)

    async def read(
        self, server: DjiraServer, observer: str, rooms: list[str], since: dict[str, Position]
    ) -> dict[str, CatchUp] | None:
        memory = get_memory_history(server)
        return None if memory is None else memory.read(observer, rooms, since)

    async def prepare(self, server: DjiraServer) -> None:
        """Nothing to wait for."""

    def connected(self, server: DjiraServer) -> None:
        """A connection reached ``server``: start what it needs (once). On its loop."""


class RedisBackend(Backend):
    """Redis numbers and keeps the rooms' streams and carries pushes (djira.delivery.redis)."""

    kind: Kind = "redis"

    @cached_property
    def registry(self) -> Registry:
        from djira.settings import jira_settings

        return RedisRegistry(jira_settings.REDIS_URL)

    @cached_property
    def presence(self) -> PresenceStore:
        from djira.settings import jira_settings

        return RedisPresence(jira_settings.REDIS_URL)

    async def stamp(self, server: DjiraServer, messages: list[Message]) -> list[Message]:
        """One round trip per batch, before the local sockets get it (a push carries its
        offset). While Redis is down, pushes go out unnumbered and their streams are marked:
        a client positioned before them is told it could not recover."""
        from djira.delivery.redis import get_server_link
        from djira.delivery.redis_history import merge, stamp_async

        pushes = [m for m in messages if isinstance(m, Push)]
        link = get_server_link(server)
        if not pushes or link is None or link.history is None:
            return messages
        store = link.history
        if not link.health.should_try():
            store.mark_broken(pushes)
            return messages
        try:
            numbered = await stamp_async(link.client, store, pushes)
        except Exception as exc:  # redis' errors, OSError: the pushes still go out, unnumbered
            store.mark_broken(pushes)
            link.health.failed(exc)
            return messages
        return merge(messages, numbered)

    def carry(self, server: DjiraServer, messages: list[Message]) -> None:
        from djira.delivery.redis import get_server_link

        link = get_server_link(server)
        if link is not None:
            # Queued for another task: Redis never delays the local sockets.
            link.publish(_shared(messages))

    def admit(self, server: DjiraServer, messages: list[Message]) -> list[Message]:
        from djira.delivery.redis import get_server_link

        link = get_server_link(server)
        # Each room in offset order, also when another process numbered a push before ours.
        return messages if link is None else link.admit(messages)

    def publish_elsewhere(self, messages: list[Message], server: DjiraServer) -> None:
        from djira.delivery.redis import get_publisher
        from djira.settings import jira_settings

        get_publisher(jira_settings.REDIS_URL).publish(_shared(messages))

    async def read(
        self, server: DjiraServer, observer: str, rooms: list[str], since: dict[str, Position]
    ) -> dict[str, CatchUp] | None:
        from djira.delivery.redis import get_server_link
        from djira.delivery.redis_history import read_async

        link = get_server_link(server)
        if link is None or link.history is None:
            return None
        if not rooms:
            return {}
        try:
            found = await read_async(link.client, link.history, observer, rooms, since)
        except Exception as exc:
            link.health.failed(exc)
            return None
        for room, caught in found.items():
            link.known(observer, room, caught.position)
        return found

    async def prepare(self, server: DjiraServer) -> None:
        from djira.delivery.redis import get_server_link

        link = get_server_link(server)
        if link is not None:
            # Listen to the other processes' pushes before saying the socket is subscribed.
            await link.listening()


class DatabaseBackend(Backend):
    """The transactional outbox (djira.delivery.database): pushes written with the change."""

    kind: Kind = "database"
    writes_in_transaction = True

    @cached_property
    def registry(self) -> Registry:
        return DatabaseRegistry()

    @cached_property
    def presence(self) -> PresenceStore:
        return DatabasePresence()

    def submit(self, messages: list[Message], server: DjiraServer) -> list[Message]:
        from djira.delivery import publishing

        shared = _shared(messages)
        if shared:
            loop = server.loop
            on_loop = loop is not None and _running_loop() is loop
            if on_loop:
                # On the server's loop (presence, emits from async code): a worker thread
                # writes the rows.
                assert loop is not None
                task = loop.create_task(publishing.publish_async(shared, server))
                _tasks.add(task)
                task.add_done_callback(_tasks.discard)
            else:
                publishing.publish(shared, server)
        # ``ignore_queue`` emits are this process's sockets' only: no row, no number.
        return [m for m in messages if isinstance(m, Emit) and m.local]

    async def stamp(self, server: DjiraServer, messages: list[Message]) -> list[Message]:
        return messages  # numbered by the database, or local emits that need no number

    def publish_elsewhere(self, messages: list[Message], server: DjiraServer) -> None:
        """``submit`` wrote every message that may leave the process."""

    async def read(
        self, server: DjiraServer, observer: str, rooms: list[str], since: dict[str, Position]
    ) -> dict[str, CatchUp] | None:
        """One worker-thread hop; ``None`` while the database cannot be read, or with
        ``HISTORY_SIZE`` 0."""
        from djira.delivery import database
        from djira.sync import run_sync

        size, ttl = settings_size_ttl()
        if size <= 0:
            return None
        keys = {room: stream_key(observer, room) for room in rooms}
        after = {keys[room]: position.offset for room, position in since.items() if room in keys}
        try:
            found = await run_sync(database.history, list(keys.values()), after)
        except Exception:
            logger.exception("djira could not read the rooms' history from its outbox")
            return None
        result = {}
        for room, key in keys.items():
            epoch, top, rows = found[key]
            entries = []
            for offset, created, payload in rows:
                if offset <= top - size:
                    continue  # past HISTORY_SIZE: kept only until the next trim
                wire: Any = djira_json.loads(payload)
                entries.append(Entry(offset, created, str(wire.get("t")), wire.get("d")))
            result[room] = catch_up(since.get(room), epoch, top, entries, ttl)
        return result

    async def prepare(self, server: DjiraServer) -> None:
        from djira.delivery.follower import get_follower

        # Pushes numbered before this subscription are delivered before it joins.
        await get_follower(server).settled()

    def connected(self, server: DjiraServer) -> None:
        from djira.delivery.follower import get_follower

        get_follower(server)


#: Publishing tasks in flight (the loop keeps only weak references to tasks).
_tasks: set[asyncio.Task[None]] = set()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class MemoryBackend(Backend):
    """One process, nothing stored: the history is this server's memory."""


def load_backend(path: str) -> type[Backend]:
    """The backend class ``path`` names; ``ImproperlyConfigured`` naming the fix if none."""
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    try:
        found = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"DJIRA_SETTINGS['DELIVERY_BACKEND'] is {path!r}, which cannot be imported ({exc})."
            " Use 'database', 'redis', 'memory' or the import string of a "
            "djira.delivery.backends.Backend subclass."
        ) from exc
    if not (isinstance(found, type) and issubclass(found, Backend)):
        raise ImproperlyConfigured(
            f"DJIRA_SETTINGS['DELIVERY_BACKEND'] is {path!r}, which is not a subclass of "
            "djira.delivery.backends.Backend."
        )
    return found


@cache
def _backend(path: str) -> Backend:
    return load_backend(path)()


#: The registry of a process that publishes no heartbeat (``HEARTBEAT_INTERVAL`` None).
_ALONE = Registry()


def get_registry() -> Registry:
    """Where live processes find each other: the backend's registry, or this process's
    alone when ``HEARTBEAT_INTERVAL`` is ``None``."""
    from djira.settings import jira_settings

    return _ALONE if jira_settings.HEARTBEAT_INTERVAL is None else get_backend().registry


def get_backend() -> Backend:
    """The configured backend (one instance per class and process)."""
    from djira.delivery import backend_path

    return _backend(backend_path())
