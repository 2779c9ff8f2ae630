"""Subscriptions on one server: leaving, siblings on a route, decorators, the emit path."""

from __future__ import annotations

import pytest

from djira.observers import ModelObserver
from djira.observers.dispatch import ServerProxy
from tests.observers.conftest import on, scenario, subscribe
from tests.testapp.models import Book
from tests.testapp.observed import ObservedBookHook

pytestmark = pytest.mark.usefixtures("db_")


async def unsubscribe(client, namespace: str = "subscribe", **kwargs):
    reply = await client.request("observed", namespace=namespace, action="UNSUBSCRIPTION", **kwargs)
    assert reply["status"] == 204, reply
    return reply


async def test_route_declaring_only_subscription_accepts_unsubscription(connect):
    client = await connect()
    assert await subscribe(client, "subscribe_only") == ["book"]
    await unsubscribe(client, "subscribe_only")
    await unsubscribe(client, "subscribe_only")  # twice is not an error
    await client.request("observed", action="POST", data={"title": "unheard"})
    assert await client.receive_nothing(0.3, "observed")


async def test_unsubscribing_one_pk_keeps_the_sibling_on_the_same_route(connect):
    first = await Book.objects.acreate(title="first")
    second = await Book.objects.acreate(title="second")
    client = await connect()
    await subscribe(client, pk=first.pk)
    await subscribe(client, pk=second.pk)
    await unsubscribe(client, pk=first.pk)
    await client.request("observed", action="PATCH", pk=first.pk, data={"year": 1})
    await client.request("observed", action="PATCH", pk=second.pk, data={"year": 2})
    push = await client.receive("observed", match=on("subscribe"))
    assert (push["room"], push["data"]["year"]) == (f"book__{second.pk}", 2)
    assert await client.receive_nothing(0.3, "observed")


async def test_room_shared_by_two_subscriptions_stays_until_both_leave(connect):
    client = await connect()
    # Both join room "book" (the query does not change the default rooms).
    await subscribe(client)
    await subscribe(client, query={"search": "x"})
    await unsubscribe(client, query={"search": "x"})
    created = await client.request("observed", action="POST", data={"title": "still here"})
    push = await client.receive("observed", match=on("subscribe"))
    assert push["data"]["id"] == created["data"]["id"]
    await unsubscribe(client)
    await client.request("observed", action="POST", data={"title": "gone"})
    assert await client.receive_nothing(0.3, "observed")


async def test_unsubscribing_without_parameters_leaves_every_subscription_of_the_route(connect):
    book = await Book.objects.acreate(title="detail")
    client = await connect()
    await subscribe(client, pk=book.pk)
    await subscribe(client, query={"search": "y"})
    reply = await unsubscribe(client)
    assert reply["data"] is None
    await client.request("observed", action="PATCH", pk=book.pk, data={"year": 3})
    assert await client.receive_nothing(0.3, "observed")


async def test_leaving_needs_no_right_to_join(connect, alice, bob):
    (alice_user, alice_token), (_, bob_token) = alice, bob
    book = await Book.objects.acreate(title="mine", owner=alice_user)
    a = await connect(token=alice_token)
    await subscribe(a, "subscribe_mine", pk=book.pk)
    # The object permission would refuse this pk to bob; leaving it is still fine.
    b = await connect(token=bob_token)
    await unsubscribe(b, "subscribe_mine", pk=book.pk)
    await unsubscribe(a, "subscribe_mine", pk=book.pk)
    await a.request("observed", action="PATCH", pk=book.pk, data={"year": 4})
    assert await a.receive_nothing(0.3, "observed")


# -- decorators ---------------------------------------------------------------------------


def test_decorators_return_the_observer_under_another_name():
    owned = ObservedBookHook.__dict__["owned"]
    assert isinstance(owned, ModelObserver)
    for alias in ("owned_rooms", "owned_subscribing_rooms", "owned_data"):
        assert ObservedBookHook.__dict__[alias] is owned
    assert owned.name == "owned"


def test_decorators_reusing_the_observer_name_keep_the_observer():
    by_author = ObservedBookHook.__dict__["by_author"]
    assert isinstance(by_author, ModelObserver)
    assert by_author.uid == "tests.testapp.observed.ObservedBookHook.by_author"
    assert by_author._rooms is not None
    assert by_author._subscribing_rooms is not None
    assert by_author._serializer is not None


async def test_observer_declared_with_its_name_reused_pushes(connect):
    client = await connect()
    reply = await client.request(
        "observed",
        namespace="subscribe_author",
        action="SUBSCRIPTION",
        query={"author": "le guin"},
    )
    assert reply["data"]["rooms"] == ["author__le guin"]
    await client.request("observed", action="POST", data={"title": "other", "author": "x"})
    created = await client.request(
        "observed", action="POST", data={"title": "earthsea", "author": "le guin"}
    )
    push = await client.receive("observed", match=on("subscribe_author"))
    assert push["room"] == "author__le guin"
    assert push["data"] == {"id": created["data"]["id"], "author": "le guin", "via": "by_author"}
    assert await client.receive_nothing(0.3, "observed")


# -- one emit path ------------------------------------------------------------------------


async def test_hook_emit_waits_for_commit_and_never_leaves_on_rollback(connect):
    client = await connect()
    await client.request(
        "observed", namespace="transactional_emit", action="POST", data={"n": 1, "rollback": 1}
    )
    await client.request("observed", namespace="transactional_emit", action="POST", data={"n": 2})
    assert await client.receive("told") == {"n": 2}
    assert await client.receive_nothing(0.3, "told")


async def test_hook_emit_is_recorded_in_the_traffic(connect):
    client = await connect()
    before = (await client.request("observed", namespace="pushes"))["data"]
    await client.request("observed", namespace="transactional_emit", action="POST", data={"n": 3})
    await client.receive("told")
    after = (await client.request("observed", namespace="pushes"))["data"]
    assert after - before == 1


async def test_receiver_emit_takes_python_socketio_arguments(connect):
    author, other = await connect(), await connect()
    await scenario(author, "create", title=f"skip:{author.sid}")
    assert (await other.receive("broadcast"))["title"] == f"skip:{author.sid}"
    assert await author.receive_nothing(0.3, "broadcast")


def test_receiver_emit_refuses_unknown_arguments():
    with pytest.raises(TypeError, match="bogus"):
        ServerProxy().emit("broadcast", {}, bogus=1)
    with pytest.raises(TypeError, match="callback"):
        ServerProxy().emit("broadcast", {}, callback=print)


async def test_leaving_is_allowed_after_the_permission_was_revoked(connect, alice):
    from asgiref.sync import sync_to_async
    from django.contrib.auth.models import Permission

    user, token = alice
    view = await Permission.objects.aget(codename="view_book")
    await sync_to_async(user.user_permissions.add)(view)
    book = await Book.objects.acreate(title="revoked")
    client = await connect(token=token)
    await subscribe(client, "subscribe_viewers", pk=book.pk)
    await sync_to_async(user.user_permissions.remove)(view)
    refused = await client.request(
        "observed", namespace="subscribe_viewers", action="SUBSCRIPTION", pk=book.pk
    )
    assert refused["status"] == 403  # joining again is refused...
    reply = await client.request(
        "observed", namespace="subscribe_viewers", action="UNSUBSCRIPTION", pk=book.pk
    )
    assert reply["status"] in (200, 204), reply  # ...leaving is not
    await client.request("observed", action="PATCH", pk=book.pk, data={"year": 5})
    assert await client.receive_nothing(0.3, "observed")
