"""Presence per room: who is subscribed to an observer's room, on every server.

A room here is an observer's user-level room (``"book"``, ``"book__7"``), identified by the
pair ``(observer uid, room)``: the sockets that subscribed to it through any hook name or
route are its members. Each server keeps its own members in memory (``LocalPresence``, the
truth for its sockets); with ``REDIS_URL`` it also mirrors them to Redis so that any process
can read the whole room:

- ``djira:<db>:presence:<uid>:<room>:<server>``: a hash ``sid -> {"id", "username"}`` per
  room and server process, with a time-to-live of ``3 x HEARTBEAT_INTERVAL``;
- ``djira:<db>:presence:servers``: a sorted set ``server -> last heartbeat`` (a timestamp),
  so readers know which servers' hashes to read.

Every ``HEARTBEAT_INTERVAL`` seconds a server renews its keys' time-to-live; a server that
crashed stops renewing and Redis drops its keys within three intervals. Liveness is only
Redis' own expiry, never a comparison of clocks: readers read every server seen in the last
minute (``SEEN``), whose hashes exist only while renewed. A key found missing at a heartbeat
(Redis restarted) or any key after a failed write is written again from memory.

Presence talks to Redis through the server's link (``redis.get_server_link``): its client,
and its ``Health``, so an outage is said once for pushes and presence alike, and so is the
recovery; while Redis is known down, presence writes nothing and waits for nothing.

Writes for one socket and room always write what memory holds *now* (present: ``HSET``;
absent: ``HDEL``), under one lock per server, so concurrent subscribe, unsubscribe and
disconnect of a socket leave Redis as memory ends up, whatever order they finish in.

Observers declared with ``presence=True`` also push ``type: "join"`` / ``"leave"`` to their
room's subscribers when a connection enters or leaves it, through the same outbox as every
other push. A crashed server's members disappear without a ``leave``: nobody is left to send
it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from djira.delivery import outbox, registry
from djira.delivery.messages import Push
from djira.delivery.redis import TIMEOUT, channel_for, get_server_link, sync_client

if TYPE_CHECKING:
    from djira.server import DjiraServer

#: (observer uid, user-level room)
Key = tuple[str, str]
#: What presence knows of a connection: ``{"id": pk or None, "username": str or None}``.
Member = dict[str, Any]

JOIN, LEAVE = "join", "leave"
#: Servers whose last heartbeat is older (seconds) are not read, and forgotten at twice that.
SEEN = 60.0


def interval() -> float:
    from djira.settings import jira_settings

    return max(0.2, float(jira_settings.HEARTBEAT_INTERVAL or 2.0))


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
    """One server's members per room, its Redis mirror and heartbeat."""

    def __init__(self, server: DjiraServer) -> None:
        self.server = server
        #: Names this server's keys in Redis; per server, not per process (tests run several).
        self.id = uuid.uuid4().hex
        self.rooms: dict[Key, dict[str, Member]] = {}
        self.of_sid: dict[str, set[Key]] = {}
        self.lock = asyncio.Lock()
        self.heartbeat: asyncio.Task[None] | None = None
        #: A write failed or was skipped (Redis down): Redis may differ from memory until the
        #: next heartbeat rewrites every key.
        self.dirty = False

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

    # -- Redis mirror -------------------------------------------------------------------------

    async def mirror(self, sid: str, keys: Iterable[Key]) -> None:
        """Write to Redis what memory holds now for ``sid`` in each of ``keys``."""
        link = get_server_link(self.server)  # on the server's loop; None without REDIS_URL
        if link is None:
            return
        self.start_heartbeat()
        if not link.health.should_try():
            # Redis is down: no subscription waits for it; the heartbeat catches up.
            self.dirty = True
            return
        prefix, ttl_ms = link.channel, int(interval() * 3000)
        async with self.lock:
            try:
                async with link.client.pipeline(transaction=False) as pipe:
                    pipe.zadd(servers_key(prefix), {self.id: time.time()})
                    for key in keys:
                        name = room_key(prefix, key, self.id)
                        member = self.rooms.get(key, {}).get(sid)
                        if member is None:
                            pipe.hdel(name, sid)
                        else:
                            pipe.hset(name, sid, json.dumps(member))
                            pipe.pexpire(name, ttl_ms)
                    await pipe.execute()
            except Exception as exc:
                self.dirty = True  # the next heartbeat writes what memory holds
                link.health.failed(exc)
                return
        link.health.ok()

    def start_heartbeat(self) -> None:
        if self.heartbeat is None or self.heartbeat.done():
            self.heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(interval())
            with contextlib.suppress(Exception):  # reported by beat()
                await self.beat()

    async def beat(self) -> None:
        """Renew this server's keys and last heartbeat; rewrite keys Redis lost.

        After a failed write, every key is rewritten from memory instead. While Redis is
        known down, nothing: the link's back-off says when to try again.
        """
        link = get_server_link(self.server)
        if link is None or not link.health.should_try():
            return
        client, prefix, ttl_ms = link.client, link.channel, int(interval() * 3000)
        async with self.lock:
            keys = list(self.rooms)
            rewrite = self.dirty
            try:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.zadd(servers_key(prefix), {self.id: time.time()})
                    # Servers long gone (their hashes expired long ago).
                    pipe.zremrangebyscore(servers_key(prefix), "-inf", time.time() - 2 * SEEN)
                    for key in keys:
                        pipe.pexpire(room_key(prefix, key, self.id), ttl_ms)
                    renewed = (await pipe.execute())[2:]
                lost = [key for key, ok in zip(keys, renewed, strict=True) if rewrite or not ok]
                if lost:
                    async with client.pipeline(transaction=True) as pipe:
                        for key in lost:
                            name = room_key(prefix, key, self.id)
                            members = self.rooms.get(key, {})  # may have emptied meanwhile
                            pipe.delete(name)
                            if members:
                                pipe.hset(
                                    name, mapping={s: json.dumps(m) for s, m in members.items()}
                                )
                                pipe.pexpire(name, ttl_ms)
                        await pipe.execute()
            except Exception as exc:
                self.dirty = True
                link.health.failed(exc)
                raise
            self.dirty = False
        link.health.ok()


def get_local(server: DjiraServer) -> LocalPresence:
    state = server.delivery
    if state.presence is None:
        with state.lock:
            if state.presence is None:
                state.presence = LocalPresence(server)
    return state.presence


# -- Redis layout (shared by the async and sync readers) ---------------------------------------
# Keys start with ``channel_for(url)`` ("djira:<db>"), as djira's pub/sub channel: one per
# database.


def servers_key(prefix: str) -> str:
    return f"{prefix}:presence:servers"


def room_key(prefix: str, key: Key, server_id: str) -> str:
    # The uid has no ``:`` and the server id is hex: the parts never run into each other.
    return f"{prefix}:presence:{key[0]}:{key[1]}:{server_id}"


def _decode(hashes: list[dict[Any, Any]]) -> list[Member]:
    members = []
    for fields in hashes:
        for raw in (fields or {}).values():
            with contextlib.suppress(ValueError):
                value = json.loads(raw)
                if isinstance(value, dict):
                    members.append(value)
    return members


def _decode_ids(raw: list[Any]) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in raw]


async def aread(client: Any, prefix: str, keys: list[Key]) -> dict[Key, list[Member]]:
    """Every recent server's members of ``keys`` (two round trips). A coroutine."""
    since = time.time() - SEEN
    recent = _decode_ids(await client.zrangebyscore(servers_key(prefix), since, "+inf"))
    async with client.pipeline(transaction=False) as pipe:
        for key in keys:
            for server_id in recent:
                pipe.hgetall(room_key(prefix, key, server_id))
        results = await pipe.execute()
    n = len(recent)
    return {key: _decode(results[i * n : (i + 1) * n]) for i, key in enumerate(keys)}


def read(client: Any, prefix: str, keys: list[Key]) -> dict[Key, list[Member]]:
    """``aread`` with a synchronous client (the console's views)."""
    recent = _decode_ids(client.zrangebyscore(servers_key(prefix), time.time() - SEEN, "+inf"))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        for server_id in recent:
            pipe.hgetall(room_key(prefix, key, server_id))
    results = pipe.execute()
    n = len(recent)
    return {key: _decode(results[i * n : (i + 1) * n]) for i, key in enumerate(keys)}


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
    """The presence of each of ``keys``, across processes with ``REDIS_URL``. A coroutine."""
    from djira.settings import jira_settings

    url = jira_settings.REDIS_URL
    if not url:
        local = get_local(server)
        return [summarize(room, local.members((uid, room))) for uid, room in keys]
    if asyncio.get_running_loop() is getattr(server, "loop", None):
        link = get_server_link(server)
        assert link is not None
        try:
            members = await aread(link.client, link.channel, keys)
        except Exception as exc:
            link.health.failed(exc)
            raise
        link.health.ok()
    else:
        # Another loop (``async_to_sync`` in a thread of its own): the server's link
        # belongs to the server's loop; a short-lived client serves this call.
        import redis.asyncio

        other = redis.asyncio.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
        )
        try:
            members = await aread(other, channel_for(url), keys)
        finally:
            await other.aclose()
    return [summarize(key[1], members[key]) for key in keys]


def snapshot(server: DjiraServer, keys: list[Key]) -> dict[Key, dict[str, Any]]:
    """``of_rooms`` for sync code (the console): Redis with ``REDIS_URL``, else this process."""
    from djira.settings import jira_settings

    url = jira_settings.REDIS_URL
    if not url:
        local = get_local(server)
        return {key: summarize(key[1], list(local.rooms.get(key, {}).values())) for key in keys}
    members = read(sync_client(url), channel_for(url), keys)
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
