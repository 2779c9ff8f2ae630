"""Presence per room over real servers: two uvicorn processes sharing a delivery backend
that shares presence (a real redis-server, or the test database).

The servers serve tests/observers/asgi.py, which registers ``RoomHook``
(tests/observers/presence_hooks.py) as ``rooms``: ``announced`` pushes join/leave
(``presence=True``), ``quiet`` does not. Each test subscribes to the room of a book of its
own (``book__<pk>``), so sockets of other tests never count.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client

from djira.testing import SocketCommunicator
from tests.observers.conftest import RedisProcess, start_observed_server, subscribe
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")


@pytest.fixture(params=["redis", "database"])
def sharing(request):
    """Two servers sharing presence through the backend, and the environment of a third."""
    if request.param == "redis":
        env = {"DJIRA_REDIS_URL": request.getfixturevalue("redis_server").url}
        return request.getfixturevalue("redis_servers"), env
    env = {"DJIRA_TEST_DELIVERY_BACKEND": "database"}
    return request.getfixturevalue("database_servers"), env


#: A crashed server's members go once readers pass its "alive until" (3 heartbeats of 2 s).
CRASH_DEADLINE = 30.0
#: Another server's subscription is read once written (the database store defers writes).
WRITTEN = 5.0


async def new_room() -> tuple[int, str]:
    book = await sync_to_async(Book.objects.create)(title="present")
    return book.pk, f"book__{book.pk}"


async def presence(client, pk, namespace: str = "presence") -> dict:
    reply = await client.request("rooms", namespace=namespace, pk=pk)
    assert reply["status"] == 200, reply
    [room] = reply["data"]
    return room


async def until(client, pk, check, deadline: float = CRASH_DEADLINE) -> dict:
    """Ask ``client``'s server for the presence until ``check(presence)`` holds."""
    end = time.monotonic() + deadline
    while True:
        seen = await presence(client, pk)
        if check(seen) or time.monotonic() > end:
            return seen
        await asyncio.sleep(0.1)


def joins(**fields):
    def match(push):
        return (
            isinstance(push, dict)
            and push.get("type") in ("join", "leave")
            and all(push.get(k) == v for k, v in fields.items())
        )

    return match


async def test_presence_of_a_room_is_the_same_from_both_servers(sharing, alice, bob):
    (alice_user, alice_token), (bob_user, bob_token) = alice, bob
    (server_a, server_b), _ = sharing
    pk, room = await new_room()
    clients = [
        SocketCommunicator(server_a.url, token=alice_token),
        SocketCommunicator(server_b.url, token=alice_token),  # alice's second tab
        SocketCommunicator(server_b.url, token=bob_token),
        SocketCommunicator(server_a.url),  # anonymous
        SocketCommunicator(server_b.url),  # anonymous
    ]
    for client in clients:
        await client.connect()
    try:
        for client in clients:
            assert await subscribe(client, hook="rooms", pk=pk) == [room]
        # The same connection subscribed twice (another route) is still one connection.
        assert await subscribe(clients[0], hook="rooms", namespace="subscribe_again", pk=pk)
        expected = {
            "room": room,
            "connections": 5,
            "users": [
                {"id": alice_user.pk, "username": "alice", "connections": 2},
                {"id": bob_user.pk, "username": "bob", "connections": 1},
            ],
            "anonymous": 2,
        }
        # Each server answers for its own sockets at once, for the other's once written
        # (within the database store's WRITE_DELAY).
        seen_from_a = await until(clients[0], pk, lambda p: p == expected, deadline=WRITTEN)
        seen_from_b = await until(clients[2], pk, lambda p: p == expected, deadline=WRITTEN)
        assert seen_from_a == seen_from_b == expected
        # The observer's API from a (sync) route body: ``self.announced.presence(room)``.
        by_room = await clients[3].request("rooms", namespace="room", query={"room": room})
        assert by_room["data"] == expected
        # Presence is per observer: nobody subscribed to ``quiet``'s room.
        quiet = await presence(clients[1], pk, namespace="presence_quiet")
        assert quiet == {"room": room, "connections": 0, "users": [], "anonymous": 0}
    finally:
        for client in clients:
            await client.disconnect()


async def test_a_subscription_counts_once_its_reply_is_in_even_while_another_is_written(sharing):
    """Subscriptions that arrive while the previous ones are being written must not wait
    for a heartbeat (or be lost): each reply comes after its own presence is stored."""
    (server_a, _), _ = sharing
    pk, _ = await new_room()
    clients = [SocketCommunicator(server_a.url) for _ in range(12)]
    for client in clients:
        await client.connect()
    try:
        for wave in (clients[:4], clients[4:]):
            # Staggered: some arrive while the write before theirs is under way.
            async def late(client, delay):
                await asyncio.sleep(delay)
                return await subscribe(client, hook="rooms", pk=pk)

            await asyncio.gather(*(late(c, i * 0.002) for i, c in enumerate(wave)))
            seen = await presence(clients[0], pk)
            assert seen["connections"] == clients.index(wave[-1]) + 1, seen
    finally:
        for client in clients:
            await client.disconnect()


async def test_unsubscribing_and_disconnecting_leave_the_room(sharing, alice, bob):
    (_, alice_token), (bob_user, bob_token) = alice, bob
    (server_a, server_b), _ = sharing
    pk, room = await new_room()
    async with (
        SocketCommunicator(server_a.url, token=alice_token) as a,
        SocketCommunicator(server_b.url, token=bob_token) as b,
        SocketCommunicator(server_a.url) as asker,
    ):
        await subscribe(a, hook="rooms", pk=pk)
        await subscribe(a, hook="rooms", namespace="subscribe_again", pk=pk)
        await subscribe(b, hook="rooms", pk=pk)
        seen = await until(asker, pk, lambda p: p["connections"] == 2, deadline=WRITTEN)
        assert seen["connections"] == 2

        # Leaving one of two routes to the same room keeps alice present.
        left = await a.request("rooms", namespace="subscribe_again", action="UNSUBSCRIPTION", pk=pk)
        assert left["status"] == 204
        assert [u["username"] for u in (await presence(asker, pk))["users"]] == ["alice", "bob"]

        left = await a.request("rooms", namespace="subscribe", action="UNSUBSCRIPTION", pk=pk)
        assert left["status"] == 204
        bob_only = [{"id": bob_user.pk, "username": "bob", "connections": 1}]
        seen = await presence(asker, pk)
        assert (seen["connections"], seen["users"]) == (1, bob_only)

        await b.disconnect()
        # The disconnect is handled by server B after the socket is gone: ask until it is.
        seen = await until(asker, pk, lambda p: p["connections"] == 0)
        assert seen == {"room": room, "connections": 0, "users": [], "anonymous": 0}


async def test_join_and_leave_are_pushed_only_where_opted_in(sharing, alice, bob):
    (alice_user, alice_token), (_, bob_token) = alice, bob
    (server_a, server_b), _ = sharing
    pk, room = await new_room()
    async with SocketCommunicator(server_a.url, token=alice_token) as watcher:
        await subscribe(watcher, hook="rooms", namespace="subscribe_quiet", pk=pk)
        await subscribe(watcher, hook="rooms", pk=pk)
        own = await watcher.receive("rooms", match=joins())
        assert (own["type"], own["namespace"], own["room"]) == ("join", "subscribe", room)
        assert own["data"] == {"user": {"id": alice_user.pk, "username": "alice"}}

        async with SocketCommunicator(server_b.url, token=bob_token) as other:
            # ``quiet`` would push first (one ordered path): the first push is announced's.
            await subscribe(other, hook="rooms", namespace="subscribe_quiet", pk=pk)
            await subscribe(other, hook="rooms", pk=pk)
            push = await watcher.receive("rooms", match=joins())
            assert (push["type"], push["namespace"]) == ("join", "subscribe")
            assert push["data"]["user"]["username"] == "bob"

            anonymous = SocketCommunicator(server_b.url)
            await anonymous.connect()
            await subscribe(anonymous, hook="rooms", pk=pk)
            push = await watcher.receive("rooms", match=joins())
            assert push["type"] == "join"
            assert push["data"] == {"user": {"id": None, "username": None}}
            await anonymous.request("rooms", namespace="subscribe", action="UNSUBSCRIPTION", pk=pk)
            push = await watcher.receive("rooms", match=joins())
            assert (push["type"], push["data"]["user"]["id"]) == ("leave", None)
            await anonymous.disconnect()

            await other.request("rooms", namespace="subscribe_quiet", action="UNSUBSCRIPTION")
        # Bob's disconnect leaves announced's room (on server B): pushed to A.
        push = await watcher.receive("rooms", match=joins())
        assert (push["type"], push["room"]) == ("leave", room)
        assert push["data"]["user"]["username"] == "bob"
        assert push["namespace"] == "subscribe"


async def test_a_crashed_servers_members_disappear(sharing, alice):
    _, alice_token = alice
    (server_a, _), env = sharing
    pk, _room = await new_room()
    doomed = start_observed_server(**env)
    try:
        async with SocketCommunicator(server_a.url) as asker:
            victim = SocketCommunicator(doomed.url, token=alice_token)
            await victim.connect()
            await subscribe(victim, hook="rooms", pk=pk)
            seen = await until(asker, pk, lambda p: p["users"] != [], deadline=WRITTEN)
            assert seen["users"][0]["username"] == "alice"
            assert doomed.process is not None
            doomed.process.kill()  # no disconnect handler runs: only the heartbeat tells
            doomed.process.wait(10)
            seen = await until(asker, pk, lambda p: p["connections"] == 0)
            assert seen["users"] == [] and seen["connections"] == 0
            await victim.disconnect()
    finally:
        doomed.stop()


async def test_presence_is_written_again_after_redis_restarts_empty(alice):
    _, alice_token = alice
    redis = RedisProcess().start()
    server = start_observed_server(DJIRA_REDIS_URL=redis.url)
    try:
        pk, _room = await new_room()
        async with (
            SocketCommunicator(server.url, token=alice_token) as a,
            SocketCommunicator(server.url) as asker,
        ):
            await subscribe(a, hook="rooms", pk=pk)
            assert (await presence(asker, pk))["connections"] == 1
            redis.stop()
            # Subscribing still works while Redis is down (presence is kept in memory).
            await subscribe(asker, hook="rooms", pk=pk)
            redis = RedisProcess(redis.port).start()  # no persistence: Redis comes back empty

            async def asked() -> dict:
                reply = await asker.request("rooms", namespace="presence", pk=pk)
                return reply["data"][0] if reply["status"] == 200 else {"connections": None}

            end = time.monotonic() + CRASH_DEADLINE
            seen = await asked()
            while seen["connections"] != 2 and time.monotonic() < end:
                await asyncio.sleep(0.1)
                seen = await asked()
            assert (seen["connections"], seen["anonymous"]) == (2, 1)
            assert [u["username"] for u in seen["users"]] == ["alice"]
        # Presence shares the server's link to Redis: one outage, said once each way.
        log = server.read_log()
        assert log.count(f"Redis at {redis.url} is unreachable") == 1, log
        assert log.count(f"Redis at {redis.url} is reachable again") == 1, log
        assert "djira presence" not in log, log  # its own warning, before
    finally:
        server.stop()
        redis.stop()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def test_presence_on_the_memory_backend_is_this_servers(alice, admin_user):
    _, alice_token = alice
    cookie = await sync_to_async(session_cookie)(admin_user)
    server = start_observed_server(DJIRA_TEST_DELIVERY_BACKEND="memory")  # stopped below
    try:
        pk, room = await new_room()
        async with (
            SocketCommunicator(server.url, token=alice_token) as a,
            SocketCommunicator(server.url) as b,
        ):
            await subscribe(a, hook="rooms", pk=pk)
            await subscribe(b, hook="rooms", pk=pk)
            seen = await presence(b, pk)
            assert (seen["connections"], seen["anonymous"]) == (2, 1)
            assert [u["username"] for u in seen["users"]] == ["alice"]
            # The console's Rooms page reads the same (this process's) presence.
            jar = aiohttp.CookieJar(unsafe=True)
            jar.update_cookies({settings.SESSION_COOKIE_NAME: cookie})
            async with (
                aiohttp.ClientSession(server.url, cookie_jar=jar) as http,
                http.get("/admin/djira/room/rows/", params={"q": room}) as response,
            ):
                assert response.status == 200
                html = await response.text()
            assert f':{room}"' in html
            assert 'data-connections="2" data-anonymous="1"' in html
            assert "alice</span>" in html and "1 anonymous" in html
            await a.disconnect()
            seen = await until(b, pk, lambda p: p["connections"] == 1)
            assert (seen["connections"], seen["users"]) == (1, [])
    finally:
        server.stop()


def test_a_batched_write_upserts_members_and_deletes_the_gone_in_one_transaction():
    from djira.delivery.database import digest
    from djira.delivery.models import Presence
    from djira.delivery.presence_stores import WRITE_CHUNK, DatabasePresence

    def table() -> set[tuple[str, str, str, str]]:
        return set(Presence.objects.values_list("server", "room", "sid", "member"))

    one, two = ("obs", "book__1"), ("obs", "book__2")
    room_one, room_two = digest("obs:book__1"), digest("obs:book__2")
    DatabasePresence._write("other", [(one, "x", {"id": 9})], set())
    DatabasePresence._write(
        "s", [(one, "a", {"id": 1}), (two, "a", {"id": 1}), (one, "b", {})], set()
    )
    assert table() == {
        ("other", room_one, "x", '{"id": 9}'),
        ("s", room_one, "a", '{"id": 1}'),
        ("s", room_two, "a", '{"id": 1}'),
        ("s", room_one, "b", "{}"),
    }
    # "a" left book 1, "b" is written again (a new member), "x" of another server stays.
    DatabasePresence._write("s", [(one, "a", None), (one, "b", {"id": 2}), (one, "x", None)], set())
    assert table() == {
        ("other", room_one, "x", '{"id": 9}'),
        ("s", room_two, "a", '{"id": 1}'),
        ("s", room_one, "b", '{"id": 2}'),
    }
    # More rows than a statement takes, both ways.
    many = [(("obs", f"book__{n}"), "c", {"id": n}) for n in range(WRITE_CHUNK * 2 + 1)]
    DatabasePresence._write("s", many, set())
    assert Presence.objects.filter(server="s", sid="c").count() == len(many)
    DatabasePresence._write("s", [(key, sid, None) for key, sid, _ in many], set())
    assert not Presence.objects.filter(server="s", sid="c").exists()
    assert len(table()) == 3
    # A socket in no room any more: all its rows go, also those the batch does not name
    # (written before a failed write), and only this server's.
    DatabasePresence._write("other", [(two, "a", {"id": 5})], set())
    DatabasePresence._write("s", many[:3], set())
    DatabasePresence._write("s", [(one, "c", None), (two, "a", None)], {"c", "a"})
    assert table() == {
        ("other", room_one, "x", '{"id": 9}'),
        ("other", room_two, "a", '{"id": 5}'),
        ("s", room_one, "b", '{"id": 2}'),
    }
