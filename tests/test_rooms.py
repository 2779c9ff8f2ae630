"""djira.delivery.rooms: python-socketio's rooms, with each socket's joined rooms indexed."""

from __future__ import annotations

import asyncio
import inspect
import random
from typing import Any

import socketio

from djira.delivery.redis_manager import DjiraAsyncRedisManager
from djira.delivery.rooms import DjiraAsyncManager, IndexedRooms
from djira.server import DjiraServer, create_server

NAMESPACES = ["/", "/chat"]
ROOMS = ["a", "b", "c"]


def _state(manager: Any, sids: list[str]) -> dict[str, dict[str, list[int]]]:
    """The manager's rooms with sids replaced by their index (the two managers' ids differ)."""
    index = {sid: n for n, sid in enumerate(sids)}

    def name(room: Any) -> str:
        return f"sid{index[room]}" if room in index else repr(room)

    return {
        namespace: {
            name(room): sorted(index[sid] for sid in members) for room, members in rooms.items()
        }
        for namespace, rooms in manager.rooms.items()
    }


async def test_indexed_rooms_end_in_the_state_python_socketio_would():
    plain, indexed = socketio.AsyncManager(), DjiraAsyncManager()
    socketio.AsyncServer(client_manager=plain)
    DjiraServer(client_manager=indexed)
    managers = (plain, indexed)
    # Each manager's connected sockets, in the same order: (namespace, sid).
    connected: dict[int, list[tuple[str, str]]] = {id(m): [] for m in managers}
    every: dict[int, list[str]] = {id(m): [] for m in managers}
    chance = random.Random(7)
    for step in range(3000):
        operation, pick, room = chance.random(), chance.random(), chance.choice(ROOMS)
        namespace = chance.choice(NAMESPACES)
        for manager in managers:
            sockets = connected[id(manager)]
            if operation < 0.15 or not sockets:
                sid = await manager.connect(f"eio{step}", namespace)
                sockets.append((namespace, sid))
                every[id(manager)].append(sid)
                continue
            index = int(pick * len(sockets))
            socket_namespace, sid = sockets[index]
            if operation < 0.55:
                manager.basic_enter_room(sid, socket_namespace, room)
            elif operation < 0.8:
                manager.basic_leave_room(sid, socket_namespace, room)
            elif operation < 0.95:
                manager.pre_disconnect(sid, socket_namespace)
                manager.basic_disconnect(sid, socket_namespace)
                del sockets[index]
            else:
                manager.basic_close_room(room, namespace)
        assert _state(indexed, every[id(indexed)]) == _state(plain, every[id(plain)])
    for (namespace, ours), (_, theirs) in zip(
        connected[id(indexed)], connected[id(plain)], strict=True
    ):
        mine = {"own" if r == ours else r for r in indexed.get_rooms(ours, namespace)}
        assert mine == {"own" if r == theirs else r for r in plain.get_rooms(theirs, namespace)}
        # The index holds exactly the rooms joined besides None and the socket's own.
        extra = {r for r, members in indexed.rooms[namespace].items() if ours in members}
        assert set(indexed.joined.get((namespace, ours), ())) == extra - {None, ours}
    assert set(indexed.joined) <= set(connected[id(indexed)])  # nothing of the disconnected
    assert indexed.pending_disconnect == plain.pending_disconnect == {}


def test_the_index_replaces_python_socketios_own_disconnect():
    # IndexedRooms.basic_disconnect repeats what python-socketio's does after its scan of
    # every room: a release that changes it must fail here.
    source = inspect.getsource(socketio.base_manager.BaseManager.basic_disconnect)
    for line in (
        "if sid in self.callbacks:",
        "sid in self.pending_connect[namespace]:",
        "sid in self.pending_disconnect[namespace]:",
    ):
        assert line in source
    assert source.count("self.basic_leave_room(") == 1


def test_djira_servers_use_indexed_managers():
    assert isinstance(DjiraServer().manager, DjiraAsyncManager)
    assert isinstance(create_server().manager, IndexedRooms)
    assert issubclass(DjiraAsyncRedisManager, IndexedRooms)
    own = socketio.AsyncManager()
    assert DjiraServer(client_manager=own).manager is own  # a project's own manager is kept


async def test_a_socket_leaves_every_room_when_it_disconnects(connect):
    watcher, client = await connect(), await connect()
    reply = await client.request("observed", namespace="subscribe", action="SUBSCRIPTION")
    assert reply["status"] == 200, reply
    sid = client.sid

    async def where() -> dict[str, Any]:
        return (await watcher.request("runtime", namespace="rooms", query={"sid": sid}))["data"]

    joined = await where()
    assert None in joined["rooms"] and sid in joined["rooms"]  # every socket's two rooms
    [indexed] = joined["indexed"]  # and only the others indexed
    assert indexed and set(indexed) == set(joined["rooms"]) - {None, sid}
    await client.disconnect()
    for _ in range(50):  # the server handles the disconnect on its own time
        if await where() == {"rooms": [], "indexed": []}:
            break
        await asyncio.sleep(0.05)
    assert await where() == {"rooms": [], "indexed": []}
