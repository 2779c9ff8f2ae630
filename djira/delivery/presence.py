"""Presence per room: who is subscribed to an observer's room, on every server.

A room here is an observer's user-level room (``"book"``, ``"book__7"``), identified by the
pair ``(observer uid, room)``: the sockets that subscribed to it through any hook name or
route are its members. Each server keeps its own members in memory (``LocalPresence``, the
truth for its sockets) and mirrors them to the delivery backend's presence store
(``djira.delivery.presence_stores``: Redis hashes, rows of the database backend's table, or
nothing with the memory backend), so that any process reads the whole room. Every
``HEARTBEAT_INTERVAL`` seconds a server renews what it wrote there; a crashed server's
members disappear within three intervals.

Observers declared with ``presence=True`` also push ``type: "join"`` / ``"leave"`` to their
room's subscribers when a connection enters or leaves it, through the same outbox as every
other push. A crashed server's members disappear without a ``leave``: nobody is left to send
it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from djira.delivery import outbox, registry
from djira.delivery.backends import get_backend
from djira.delivery.messages import Push

if TYPE_CHECKING:
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

#: (observer uid, user-level room)
Key = tuple[str, str]
#: What presence knows of a connection: ``{"id": pk or None, "username": str or None}``.
Member = dict[str, Any]

JOIN, LEAVE = "join", "leave"


def member_of(user: Any) -> Member:
    """A connection's user as presence shows it; anonymous users have no id nor name."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {"id": None, "username": None}
    pk = user.pk
    # JSON-safe and comparable across processes (UUID keys become strings).
    return {"id": pk if isinstance(pk, int | str) else str(pk), "username": user.get_username()}


def summarize(room: str, members: Iterable[Member]) -> dict[str, Any]:
    """``{"room", "connections", "users": [{"id", "username", "connections"}], "anonymous"}``.

    One entry per user (by id), with its number of connections; users sorted by username;
    ``anonymous`` counts anonymous connections.
    """
    users: dict[Any, dict[str, Any]] = {}
    anonymous = total = 0
    for member in members:
        total += 1
        if member.get("id") is None:
            anonymous += 1
            continue
        entry = users.setdefault(
            member["id"], {"id": member["id"], "username": member.get("username"), "connections": 0}
        )
        entry["connections"] += 1
    ordered = sorted(users.values(), key=lambda u: (str(u["username"]), str(u["id"])))
    return {"room": room, "connections": total, "users": ordered, "anonymous": anonymous}


# -- this server's members (the truth for its sockets) ---------------------------------------


class LocalPresence:
    """One server's members per room (the server's heartbeat renews them in the store)."""

    def __init__(self, server: DjiraServer) -> None:
        self.server = server
        #: Names this server's entries in the store; per server, not per process (tests run
        #: several).
        self.id = server.delivery.id
        self.rooms: dict[Key, dict[str, Member]] = {}
        self.of_sid: dict[str, set[Key]] = {}
        self.lock = asyncio.Lock()
        #: A write failed or was skipped (the store was down): the store may differ from
        #: memory until the next heartbeat rewrites this server's members.
        self.dirty = False
        #: Failing now (said once, when it starts and when it ends).
        self.failing = False

    # -- memory -----------------------------------------------------------------------------

    def add(self, sid: str, key: Key, member: Member) -> bool:
        """Note ``sid`` in ``key``'s room; ``True`` if it was not there yet."""
        members = self.rooms.setdefault(key, {})
        if sid in members:
            return False
        members[sid] = member
        self.of_sid.setdefault(sid, set()).add(key)
        return True

    def remove(self, sid: str, key: Key) -> Member | None:
        """Forget ``sid`` in ``key``'s room; the member it was, or ``None`` if absent."""
        members = self.rooms.get(key)
        member = members.pop(sid, None) if members is not None else None
        if members is not None and not members:
            del self.rooms[key]
        keys = self.of_sid.get(sid)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.of_sid[sid]
        return member

    def members(self, key: Key) -> list[Member]:
        return list(self.rooms.get(key, {}).values())

    # -- the backend's store ------------------------------------------------------------------

    async def mirror(self, sid: str, keys: Iterable[Key]) -> None:
        """Write to the backend's store what memory holds now for ``sid`` in ``keys``."""
        store = get_backend().presence
        if not store.shared:
            return
        try:
            await store.mirror(self, sid, keys)
        except Exception:
            self.write_failed()

    def write_ok(self) -> None:
        self.failing = False

    def write_failed(self) -> None:
        """A write to the store failed: said here once per outage (or by the store's
        health, for Redis); the heartbeat rewrites what memory holds, and no subscription
        fails for it. Call from an ``except`` block."""
        self.dirty = True
        if not self.failing:
            self.failing = True
            logger.warning("djira: cannot write presence to the delivery backend", exc_info=True)


def get_local(server: DjiraServer) -> LocalPresence:
    state = server.delivery
    if state.presence is None:
        with state.lock:
            if state.presence is None:
                state.presence = LocalPresence(server)
    return state.presence


# -- what subscriptions and observers call ------------------------------------------------------


def announces(observer: str) -> bool:
    """Whether observer ``observer`` (a uid) pushes join/leave: ``presence=True``."""
    return bool(getattr(registry.get(observer), "announce_presence", False))


def _push(server: DjiraServer, kind: str, changed: list[tuple[Key, Member]]) -> None:
    pushes = [
        Push(uid, room, kind, {"user": member}) for (uid, room), member in changed if announces(uid)
    ]
    if pushes:
        outbox.send(pushes, server)


async def joined(server: DjiraServer, sid: str, user: Any, keys: list[Key]) -> None:
    """``sid`` subscribed to ``keys``' rooms (called once it is in the rooms). A coroutine."""
    if not keys or not server.manager.is_connected(sid, "/"):
        return  # gone meanwhile: its disconnect already cleaned up
    local = get_local(server)
    member = member_of(user)
    new = [key for key in keys if local.add(sid, key, member)]
    await local.mirror(sid, new)
    _push(server, JOIN, [(key, member) for key in new])


async def left(server: DjiraServer, sid: str, keys: list[Key]) -> None:
    """``sid`` holds no subscription to ``keys``' rooms any more. A coroutine."""
    local = get_local(server)
    gone = [(key, m) for key in keys if (m := local.remove(sid, key)) is not None]
    await local.mirror(sid, [key for key, _ in gone])
    _push(server, LEAVE, gone)


async def disconnected(server: DjiraServer, sid: str) -> None:
    """``sid`` disconnected: it leaves every room it was present in. A coroutine."""
    local = server.delivery.presence
    if local is not None and sid in local.of_sid:
        await left(server, sid, list(local.of_sid[sid]))


async def of_rooms(server: DjiraServer, keys: list[Key]) -> list[dict[str, Any]]:
    """The presence of each of ``keys``, across the processes sharing the backend. A
    coroutine; raises when the store cannot be read."""
    members = await get_backend().presence.read_async(server, keys)
    return [summarize(key[1], members[key]) for key in keys]


def snapshot(server: DjiraServer, keys: list[Key]) -> dict[Key, dict[str, Any]]:
    """``of_rooms`` for sync code (the console)."""
    members = get_backend().presence.read(server, keys)
    return {key: summarize(key[1], members[key]) for key in keys}


def key_of(sio_room: str, uids: Iterable[str]) -> Key | None:
    """The ``(uid, room)`` of a subscription's python-socketio room, given known uids.

    ``djira:<hook name>:<route>:<uid>:<room>``: hook names may hold ``:``, uids never do.
    """
    if not sio_room.startswith("djira:"):
        return None
    for uid in uids:
        before, marker, room = sio_room.partition(f":{uid}:")
        if marker and room:
            return uid, room
    return None
