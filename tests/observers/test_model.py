"""Model observers on one server process: subscriptions, pushes after commit, rooms."""

from __future__ import annotations

import asyncio

import pytest

from tests.observers.conftest import on, scenario, subscribe
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")


async def test_subscription_reply_names_the_rooms_joined(connect):
    client = await connect()
    reply = await client.request(
        "observed", namespace="subscribe", action="SUBSCRIPTION", request_id="s1"
    )
    assert reply == {
        "status": 200,
        "event": "observed",
        "namespace": "subscribe",
        "action": "SUBSCRIPTION",
        "requestId": "s1",
        "data": {"rooms": ["book"]},
        # Where each room's stream stands (observers.md, "Catching up after a drop").
        "positions": {"book": reply["positions"]["book"]},
    }
    assert set(reply["positions"]["book"]) == {"epoch", "offset"}


async def test_create_update_delete_are_pushed_with_the_envelope(connect):
    watcher, writer = await connect(), await connect()
    await subscribe(watcher)
    created = await writer.request("observed", action="POST", data={"title": "Dune", "year": 1965})
    pk = created["data"]["id"]
    push = await watcher.receive("observed", match=on("subscribe", type="create"))
    assert push == {
        "status": 200,
        "event": "observed",
        "namespace": "subscribe",
        "action": "SUBSCRIPTION",
        "type": "create",
        "room": "book",
        "data": created["data"],
        # Its position in the room's stream (observers.md, "Catching up after a drop").
        "epoch": push["epoch"],
        "offset": push["offset"],
    }
    assert isinstance(push["epoch"], str) and push["offset"] >= 1
    await writer.request("observed", action="PATCH", pk=pk, data={"year": 1966})
    push = await watcher.receive("observed", match=on("subscribe", type="update"))
    assert push["data"]["year"] == 1966
    await writer.request("observed", action="DELETE", pk=pk)
    push = await watcher.receive("observed", match=on("subscribe", type="delete"))
    assert push["data"]["id"] == pk and push["data"]["title"] == "Dune"


async def test_subscribing_with_pk_joins_that_row_only(connect):
    first = await Book.objects.acreate(title="one")
    second = await Book.objects.acreate(title="two")
    client = await connect()
    assert await subscribe(client, pk=first.pk) == [f"book__{first.pk}"]
    await client.request("observed", action="PATCH", pk=second.pk, data={"year": 1})
    await client.request("observed", action="PATCH", pk=first.pk, data={"year": 2})
    push = await client.receive("observed", match=on("subscribe"))
    assert (push["room"], push["data"]["id"], push["data"]["year"]) == (
        f"book__{first.pk}",
        first.pk,
        2,
    )
    assert await client.receive_nothing(0.3, "observed")


async def test_several_saves_in_one_transaction_send_one_push_with_final_state(connect):
    client = await connect()
    await subscribe(client)
    result = await scenario(client, "multi", title="final")
    push = await client.receive("observed", match=on("subscribe"))
    assert (push["type"], push["data"]["id"], push["data"]["title"]) == (
        "create",
        result["id"],
        "final",
    )
    assert await client.receive_nothing(0.3, "observed")


async def test_rolled_back_transaction_sends_nothing(connect):
    client = await connect()
    await subscribe(client)
    await scenario(client, "rollback")
    assert await client.receive_nothing(0.4, "observed")
    assert not await Book.objects.filter(title="rolled back").aexists()


async def test_rolled_back_savepoint_sends_nothing_but_the_outer_change_does(connect):
    book = await Book.objects.acreate(title="before")
    client = await connect()
    await subscribe(client)
    await scenario(client, "savepoint", id=book.pk)
    push = await client.receive("observed", match=on("subscribe"))
    assert (push["type"], push["data"]["id"], push["data"]["title"]) == ("update", book.pk, "outer")
    assert await client.receive_nothing(0.3, "observed")


async def test_row_leaving_a_room_sends_delete_there_and_create_in_the_new_one(connect, alice, bob):
    (alice_user, alice_token), (bob_user, bob_token) = alice, bob
    a, b = await connect(token=alice_token), await connect(token=bob_token)
    assert await subscribe(a, "subscribe_owned") == [f"owner__{alice_user.pk}"]
    assert await subscribe(b, "subscribe_owned") == [f"owner__{bob_user.pk}"]
    created = await scenario(a, "create", title="moving", owner=alice_user.pk)
    push = await a.receive("observed", match=on("subscribe_owned"))
    assert (push["type"], push["data"]["id"]) == ("create", created["id"])
    await scenario(a, "move", id=created["id"], owner=bob_user.pk)
    left = await a.receive("observed", match=on("subscribe_owned"))
    assert (left["type"], left["room"]) == ("delete", f"owner__{alice_user.pk}")
    assert left["data"]["owner"] == alice_user.pk  # the state alice was allowed to see
    arrived = await b.receive("observed", match=on("subscribe_owned"))
    assert (arrived["type"], arrived["room"], arrived["data"]["owner"]) == (
        "create",
        f"owner__{bob_user.pk}",
        bob_user.pk,
    )


async def test_user_never_receives_rooms_it_may_not_join(connect, alice, bob):
    (alice_user, alice_token), (_, bob_token) = alice, bob
    anonymous, b = await connect(), await connect(token=bob_token)
    assert await subscribe(anonymous, "subscribe_owned") == []
    await subscribe(b, "subscribe_owned")
    a = await connect(token=alice_token)
    await subscribe(a, "subscribe_owned")  # another user opening alice's room changes nothing
    await scenario(a, "create", title="alice's", owner=alice_user.pk)
    await a.receive("observed", match=on("subscribe_owned"))
    assert await b.receive_nothing(0.3, "observed")
    assert await anonymous.receive_nothing(0.1, "observed")


async def test_object_permission_refuses_a_subscription_and_its_pushes(connect, alice, bob):
    (alice_user, alice_token), (_, bob_token) = alice, bob
    book = await Book.objects.acreate(title="private", owner=alice_user)
    b = await connect(token=bob_token)
    reply = await b.request(
        "observed", namespace="subscribe_mine", action="SUBSCRIPTION", pk=book.pk
    )
    assert reply["status"] == 403
    a = await connect(token=alice_token)
    assert await subscribe(a, "subscribe_mine", pk=book.pk) == [f"book__{book.pk}"]
    await a.request("observed", action="PATCH", pk=book.pk, data={"year": 7})
    push = await a.receive("observed", match=on("subscribe_mine"))
    assert push["data"]["year"] == 7
    assert await b.receive_nothing(0.3, "observed")


async def test_unsubscribing_one_route_keeps_the_others(connect, alice):
    alice_user, token = alice
    client = await connect(token=token)
    await subscribe(client, "subscribe")
    await subscribe(client, "subscribe_owned")
    for _ in range(2):  # unsubscribing twice is not an error
        reply = await client.request("observed", namespace="subscribe", action="UNSUBSCRIPTION")
        assert (reply["status"], reply["data"]) == (204, None)
    await scenario(client, "create", title="kept", owner=alice_user.pk)
    push = await client.receive("observed")
    assert push["namespace"] == "subscribe_owned"
    assert await client.receive_nothing(0.3, "observed")


async def test_disconnect_leaves_every_room(connect):
    book = await Book.objects.acreate(title="watched")
    room = f"djira:observed:subscribe:tests.testapp.observed.ObservedBookHook.books:book__{book.pk}"
    watcher, inspector = await connect(), await connect()
    await subscribe(watcher, pk=book.pk)
    assert (await inspector.request("observed", namespace="rooms"))["data"][room] == 1
    await watcher.disconnect()
    for _ in range(50):  # the server handles the disconnect asynchronously
        if room not in (await inspector.request("observed", namespace="rooms"))["data"]:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError(f"{room} still has members after disconnect")


async def test_serialization_happens_once_per_change_not_per_subscriber(connect, alice):
    alice_user, token = alice
    clients = [await connect(token=token) for _ in range(4)]
    for client in clients:
        await subscribe(client, "subscribe_owned")
    before = (await clients[0].request("observed", namespace="calls"))["data"].get("owned", 0)
    await scenario(clients[0], "create", title="fan", owner=alice_user.pk)
    for client in clients:
        await client.receive("observed", match=on("subscribe_owned"))
    after = (await clients[0].request("observed", namespace="calls"))["data"]["owned"]
    assert after - before == 1


async def test_failing_observer_is_logged_and_the_save_stands(connect):
    client = await connect()
    await subscribe(client)
    result = await scenario(client, "create", title="explode")
    assert await Book.objects.filter(pk=result["id"]).aexists()
    assert await client.receive_nothing(0.3, "observed")
    created = await client.request("observed", action="POST", data={"title": "after"})
    push = await client.receive("observed", match=on("subscribe"))
    assert push["data"]["id"] == created["data"]["id"]


async def test_bulk_writes_are_announced_with_notify(connect):
    client = await connect()
    await subscribe(client)
    result = await scenario(client, "bulk")
    pushes = [await client.receive("observed", match=on("subscribe")) for _ in range(6)]
    assert [(p["type"], p["data"]["id"]) for p in pushes[:3]] == [
        ("create", pk) for pk in result["ids"]
    ]
    assert [(p["type"], p["data"]["year"]) for p in pushes[3:]] == [("update", 1234)] * 3


async def test_pushes_keep_commit_order(connect):
    book = await Book.objects.acreate(title="counter")
    client = await connect()
    await subscribe(client, pk=book.pk)
    for year in range(1, 21):
        await client.request("observed", action="PATCH", pk=book.pk, data={"year": year})
    years = [
        (await client.receive("observed", match=on("subscribe")))["data"]["year"] for _ in range(20)
    ]
    assert years == list(range(1, 21))
