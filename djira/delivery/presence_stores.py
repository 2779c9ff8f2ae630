"""Where presence is shared between processes: one store per delivery backend.

Each server keeps its own members in memory (``presence.LocalPresence``, the truth for its
sockets); a shared store mirrors them so that any process reads a whole room:

- memory (``PresenceStore``): nothing to share, the server's memory is the room;
- redis (``RedisPresence``): a hash per room and server with a time-to-live (only Redis'
  clock counts), and a sorted set of servers by last heartbeat;
- database (``DatabasePresence``): a row per (server, room, connection) in
  ``djira_presence`` until ``expires``, renewed by the heartbeat; written in batches a
  moment later (``WRITE_DELAY``), each server reading its own members from memory.

Every ``HEARTBEAT_INTERVAL`` a server renews what it wrote; a server that crashed stops, and
its members disappear within three intervals (without a ``leave``: nobody is left to send
it). After a failed write (the store was down) the next heartbeat rewrites the server's
members from memory. Mirroring writes what memory holds *now* for a socket and its rooms,
under the server's presence lock, so concurrent subscribe, unsubscribe and disconnect leave
the store as memory ends up, whatever order they finish in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from djira.delivery.redis_clients import is_cluster

if TYPE_CHECKING:
    from djira.delivery.presence import Key, LocalPresence, Member
    from djira.server import DjiraServer

#: Servers whose last heartbeat is older (seconds) are not read, and forgotten at twice that.
SEEN = 60.0

#: Rows per statement of a batched presence write (well under SQLite's limit on parameters).
WRITE_CHUNK = 200


def interval() -> float:
    from djira.settings import jira_settings

    return max(0.2, float(jira_settings.HEARTBEAT_INTERVAL or 2.0))


def _decode(raws: Iterable[Any]) -> list[Member]:
    members = []
    for raw in raws:
        with contextlib.suppress(ValueError, TypeError):
            value = json.loads(raw)
            if isinstance(value, dict):
                members.append(value)
    return members


class PresenceStore:
    """The memory backend's: one process, so memory is the whole room."""

    #: Whether other processes' members are read from here.
    shared = False

    async def mirror(self, local: LocalPresence, sid: str, keys: Iterable[Key]) -> None:
        """Write what memory holds now for ``sid`` in ``keys``' rooms. A coroutine."""

    async def beat(self, local: LocalPresence) -> None:
        """Renew this server's members; rewrite them all after a failed write. A coroutine."""

    async def read_async(self, server: DjiraServer, keys: list[Key]) -> dict[Key, list[Member]]:
        """Every live server's members of ``keys``; here, ``server``'s own. A coroutine."""
        return self.read(server, keys)

    def read(self, server: DjiraServer, keys: list[Key]) -> dict[Key, list[Member]]:
        """``read_async`` for sync code (the console's views)."""
        local = server.delivery.presence
        return {key: [] if local is None else local.members(key) for key in keys}


class RedisPresence(PresenceStore):
    """``<prefix>:presence:<uid>:<room>:<server>`` hashes ``sid -> member`` and the sorted
    set ``<prefix>:presence:servers``; ``prefix`` is ``djira:<db>``, as the log stream's."""

    shared = True

    def __init__(self, url: str) -> None:
        from djira.delivery.redis import channel_for

        self.url = url
        self.prefix = channel_for(url)

    def servers_key(self) -> str:
        return f"{self.prefix}:presence:servers"

    def room_key(self, key: Key, server_id: str) -> str:
        # The uid has no ``:`` and the server id is hex: the parts never run into each other.
        return f"{self.prefix}:presence:{key[0]}:{key[1]}:{server_id}"

    async def mirror(self, local: LocalPresence, sid: str, keys: Iterable[Key]) -> None:
        from djira.delivery.redis import get_server_link

        link = get_server_link(local.server)  # on the server's loop
        assert link is not None, "the redis backend needs REDIS_URL (djira.E011)"
        if not link.health.should_try():
            # Redis is down: no subscription waits for it; the heartbeat catches up.
            local.dirty = True
            return
        ttl_ms = int(interval() * 3000)
        async with local.lock:
            try:
                async with link.client.pipeline(transaction=False) as pipe:
                    pipe.zadd(self.servers_key(), {local.id: time.time()})
                    for key in keys:
                        name = self.room_key(key, local.id)
                        member = local.rooms.get(key, {}).get(sid)
                        if member is None:
                            pipe.hdel(name, sid)
                        else:
                            pipe.hset(name, sid, json.dumps(member))
                            pipe.pexpire(name, ttl_ms)
                    await pipe.execute()
            except Exception as exc:
                local.dirty = True  # the next heartbeat writes what memory holds
                link.health.failed(exc)
                return
        link.health.ok()
        local.write_ok()

    async def beat(self, local: LocalPresence) -> None:
        """While Redis is known down, nothing: the link's back-off says when to try again."""
        from djira.delivery.redis import get_server_link

        link = get_server_link(local.server)
        if link is None or not link.health.should_try():
            return
        client, ttl_ms = link.client, int(interval() * 3000)
        async with local.lock:
            keys = list(local.rooms)
            rewrite = local.dirty
            try:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.zadd(self.servers_key(), {local.id: time.time()})
                    # Servers long gone (their hashes expired long ago).
                    pipe.zremrangebyscore(self.servers_key(), "-inf", time.time() - 2 * SEEN)
                    for key in keys:
                        pipe.pexpire(self.room_key(key, local.id), ttl_ms)
                    renewed = (await pipe.execute())[2:]
                lost = [key for key, ok in zip(keys, renewed, strict=True) if rewrite or not ok]
                if lost:
                    # Atomic per room where Redis allows it; a cluster refuses a transaction
                    # over several slots (rooms), so there each room is rewritten alone.
                    atomic = not is_cluster(self.url)
                    async with client.pipeline(transaction=atomic) as pipe:
                        for key in lost:
                            name = self.room_key(key, local.id)
                            members = local.rooms.get(key, {})  # may have emptied meanwhile
                            pipe.delete(name)
                            if members:
                                pipe.hset(
                                    name, mapping={s: json.dumps(m) for s, m in members.items()}
                                )
                                pipe.pexpire(name, ttl_ms)
                        await pipe.execute()
            except Exception as exc:
                local.dirty = True
                link.health.failed(exc)
                raise
            local.dirty = False
        link.health.ok()

    def _grouped(self, keys: list[Key], recent: list[str], results: list[Any]) -> Any:
        n = len(recent)
        hashes = [(r or {}).values() for r in results]
        return {
            key: _decode(v for h in hashes[i * n : (i + 1) * n] for v in h)
            for i, key in enumerate(keys)
        }

    async def read_async(self, server: DjiraServer, keys: list[Key]) -> dict[Key, list[Member]]:
        from djira.delivery.redis import TIMEOUT, get_server_link

        if asyncio.get_running_loop() is server.loop:
            link = get_server_link(server)
            assert link is not None
            try:
                found = await self._aread(link.client, keys)
            except Exception as exc:
                link.health.failed(exc)
                raise
            link.health.ok()
            return found
        # Another loop (``async_to_sync`` in a thread of its own): the server's link belongs
        # to the server's loop; a short-lived client serves this call.
        from djira.delivery.redis_clients import connect

        other = connect(self.url, TIMEOUT, asynchronous=True)
        try:
            return await self._aread(other, keys)
        finally:
            await other.aclose()

    async def _aread(self, client: Any, keys: list[Key]) -> dict[Key, list[Member]]:
        """Every recent server's members of ``keys`` (two round trips)."""
        raw = await client.zrangebyscore(self.servers_key(), time.time() - SEEN, "+inf")
        recent = [s.decode() if isinstance(s, bytes) else str(s) for s in raw]
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                for server_id in recent:
                    pipe.hgetall(self.room_key(key, server_id))
            results = await pipe.execute()
        return self._grouped(keys, recent, results)

    def read(self, server: DjiraServer, keys: list[Key]) -> dict[Key, list[Member]]:
        from djira.delivery.redis import sync_client

        client = sync_client(self.url)
        raw = client.zrangebyscore(self.servers_key(), time.time() - SEEN, "+inf")
        recent = [s.decode() if isinstance(s, bytes) else str(s) for s in raw]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            for server_id in recent:
                pipe.hgetall(self.room_key(key, server_id))
        return self._grouped(keys, recent, pipe.execute())


#: Seconds a database presence write waits for others to share its transaction: on SQLite
#: every write transaction holds the one write lock, and 50 sockets reconnecting every
#: second would otherwise be 100 of them a second.
WRITE_DELAY = 0.1

_flushes: set[asyncio.Task[None]] = set()


class DatabasePresence(PresenceStore):
    """Rows of ``djira_presence`` (``djira.delivery.models.Presence``), one per server, room
    and connection, counted until ``expires`` (the writer's clock: keep clocks in NTP).

    Writes are deferred by ``WRITE_DELAY`` and batched, and subscribing does not wait for
    them: a server reads its own members from memory (the truth for its sockets) and only
    the other servers' from the table, so a socket sees itself present as soon as its
    subscription is answered, and other processes see it within ``WRITE_DELAY``.
    """

    shared = True

    def __init__(self) -> None:
        #: Per server (``LocalPresence.id``): the batch still open to new pairs, as the
        #: (room, sid) pairs to write and the task that will write them.
        self._open: dict[str, tuple[set[tuple[Key, str]], asyncio.Task[None]]] = {}

    async def mirror(self, local: LocalPresence, sid: str, keys: Iterable[Key]) -> None:
        pairs = {(key, sid) for key in keys}
        if not pairs:
            return
        batch = self._open.get(local.id)
        if batch is None:
            wanted: set[tuple[Key, str]] = set()
            task = asyncio.get_running_loop().create_task(self._flush(local, wanted))
            _flushes.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(_flushes.discard)
            batch = self._open[local.id] = (wanted, task)
        batch[0].update(pairs)

    async def _flush(self, local: LocalPresence, pairs: set[tuple[Key, str]]) -> None:
        from djira.sync import run_sync

        await asyncio.sleep(WRITE_DELAY)  # the subscriptions of the next moments join in
        async with local.lock:
            # Closed once the lock is held (the write before has finished): pairs that came
            # while it was written join this batch; pairs from now on open the next.
            still_open = self._open.get(local.id)
            if still_open is not None and still_open[0] is pairs:
                del self._open[local.id]
            wanted = [(key, sid, local.rooms.get(key, {}).get(sid)) for key, sid in pairs]
            # Sockets in no room any more (a disconnect): all their rows go, by ``sid``.
            emptied = {sid for _, sid in pairs if sid not in local.of_sid}
            try:
                await run_sync(self._write, local.id, wanted, emptied, sid="")
            except Exception:
                local.write_failed()  # the next heartbeat writes what memory holds
            else:
                local.write_ok()

    @staticmethod
    def _write(
        server_id: str, wanted: list[tuple[Key, str, Member | None]], emptied: set[str]
    ) -> None:
        """One batch in one transaction: a ``DELETE`` of the rows gone and an upsert of the
        rows present (per ``WRITE_CHUNK`` rows), however many subscriptions it holds.

        The rows of ``emptied`` sockets (present nowhere now) are deleted by ``sid``: a
        disconnect's rows cost one condition, not one per room.
        """
        from django.db import connections, transaction
        from django.db.models import Q

        from djira.delivery.database import digest
        from djira.delivery.history import stream_key
        from djira.delivery.models import Presence

        expires = time.time() + interval() * 3
        rows = [(digest(stream_key(*key)), sid, member) for key, sid, member in wanted]
        gone = [
            Q(room=room, sid=sid)
            for room, sid, member in rows
            if member is None and sid not in emptied
        ]
        present = [
            Presence(server=server_id, room=room, sid=sid, member=json.dumps(m), expires=expires)
            for room, sid, m in rows
            if m is not None
        ]
        alias = Presence.objects.db
        features = connections[alias].features
        with transaction.atomic(using=alias):
            sids = sorted(emptied)
            for start in range(0, len(sids), WRITE_CHUNK):
                chunk = sids[start : start + WRITE_CHUNK]
                Presence.objects.filter(server=server_id, sid__in=chunk).delete()
            for start in range(0, len(gone), WRITE_CHUNK):
                either = Q(*gone[start : start + WRITE_CHUNK], _connector=Q.OR)
                Presence.objects.filter(either, server=server_id).delete()
            if not features.supports_update_conflicts:  # a backend without upserts
                for row in present:
                    Presence.objects.update_or_create(
                        server=row.server,
                        room=row.room,
                        sid=row.sid,
                        defaults={"member": row.member, "expires": row.expires},
                    )
            elif present:
                Presence.objects.bulk_create(
                    present,
                    batch_size=WRITE_CHUNK,
                    update_conflicts=True,
                    # MySQL's upsert takes no conflict target (any unique key counts).
                    unique_fields=(
                        ["server", "room", "sid"]
                        if features.supports_update_conflicts_with_target
                        else None
                    ),
                    update_fields=["member", "expires"],
                )

    async def beat(self, local: LocalPresence) -> None:
        from djira.sync import run_sync

        if not local.rooms and not local.dirty:
            return  # nothing of this server's is stored (leaving deleted its rows)
        async with local.lock:
            rewrite = local.dirty
            rows = (
                [
                    (key, sid, member)
                    for key, members in local.rooms.items()
                    for sid, member in members.items()
                ]
                if rewrite
                else None
            )
            try:
                await run_sync(self._renew, local.id, rows, sid="")
            except Exception:
                local.dirty = True
                raise
            local.dirty = False

    @staticmethod
    def _renew(server_id: str, rows: list[tuple[Key, str, Member]] | None) -> None:
        from django.db import transaction

        from djira.delivery.database import digest
        from djira.delivery.history import stream_key
        from djira.delivery.models import Presence

        now = time.time()
        expires = now + interval() * 3
        with transaction.atomic(using=Presence.objects.db):
            mine = Presence.objects.filter(server=server_id)
            if rows is None:
                mine.update(expires=expires)
            else:  # after a failed write: memory is the truth
                mine.delete()
                Presence.objects.bulk_create(
                    Presence(
                        server=server_id,
                        room=digest(stream_key(*key)),
                        sid=sid,
                        member=json.dumps(member),
                        expires=expires,
                    )
                    for key, sid, member in rows
                )
            # Servers gone a minute ago: removed by whoever beats next.
            Presence.objects.filter(expires__lt=now - SEEN).delete()

    async def read_async(self, server: DjiraServer, keys: list[Key]) -> dict[Key, list[Member]]:
        from djira.sync import run_sync

        return await run_sync(self.read, server, keys)

    def read(self, server: DjiraServer, keys: list[Key]) -> dict[Key, list[Member]]:
        """This server's members from memory, the other servers' from the table."""
        from djira.delivery.database import digest
        from djira.delivery.history import stream_key
        from djira.delivery.models import Presence

        rooms = {digest(stream_key(*key)): key for key in keys}
        found: dict[Key, list[Any]] = {key: [] for key in keys}
        live = Presence.objects.filter(room__in=list(rooms), expires__gt=time.time())
        local = server.delivery.presence
        if local is not None:
            live = live.exclude(server=local.id)
        for room, member in live.values_list("room", "member"):
            found[rooms[room]].append(member)
        mine = super().read(server, keys)
        return {key: mine[key] + _decode(raws) for key, raws in found.items()}
