"""Request/reply over a real server: CRUD, routing, envelopes, acks and events."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")


@sync_to_async
def make_books(n: int, **fields) -> list[int]:
    return [Book.objects.create(title=f"book {i:02}", **fields).pk for i in range(n)]


async def test_list_returns_first_page(connect):
    await make_books(20)
    client = await connect()
    reply = await client.request("books", request_id="r1")
    assert reply["status"] == 200
    assert reply["requestId"] == "r1"
    assert reply["event"] == "books" and reply["action"] == "GET" and reply["namespace"] is None
    assert reply["data"]["count"] == 20
    assert len(reply["data"]["results"]) == 16
    assert reply["data"]["next"] == 2 and reply["data"]["previous"] is None


async def test_retrieve_by_pk(connect):
    [pk] = await make_books(1)
    client = await connect()
    reply = await client.request("books", pk=pk)
    assert reply["status"] == 200
    assert reply["data"]["title"] == "book 00"


async def test_create_returns_201(connect, token):
    client = await connect(token=token)
    reply = await client.request("books", action="POST", data={"title": "New", "year": 1999})
    assert reply["status"] == 201
    assert reply["data"]["title"] == "New"
    assert await Book.objects.filter(title="New").aexists()


async def test_create_invalid_returns_field_errors(connect):
    client = await connect()
    reply = await client.request("books", action="POST", data={"year": -5})
    assert reply["status"] == 400
    assert set(reply["data"]) == {"title", "year"}


async def test_update_and_partial_update(connect):
    [pk] = await make_books(1)
    client = await connect()
    reply = await client.request("books", action="PUT", pk=pk, data={"title": "T", "year": 5})
    assert (reply["status"], reply["data"]["year"]) == (200, 5)
    reply = await client.request("books", action="PATCH", pk=pk, data={"author": "Ann"})
    assert (reply["status"], reply["data"]["author"], reply["data"]["title"]) == (200, "Ann", "T")


async def test_destroy_returns_204_with_null_data(connect):
    [pk] = await make_books(1)
    client = await connect()
    reply = await client.request("books", action="DELETE", pk=pk)
    assert reply["status"] == 204 and reply["data"] is None
    assert not await Book.objects.filter(pk=pk).aexists()


async def test_missing_object_is_404(connect):
    client = await connect()
    assert (await client.request("books", pk=999_999))["status"] == 404
    assert (await client.request("books", pk="not-a-number"))["status"] == 404


async def test_unknown_hook_is_404(connect):
    client = await connect()
    reply = await client.request("nope", request_id=7)
    assert reply["status"] == 404 and reply["requestId"] == 7
    assert "nope" in reply["data"]["detail"]


async def test_unknown_namespace_is_404(connect):
    client = await connect()
    reply = await client.request("books", namespace="missing")
    assert reply["status"] == 404
    assert "missing" in reply["data"]["detail"]


async def test_wrong_verb_is_405_with_allowed(connect):
    client = await connect()
    reply = await client.request("books", namespace="count", action="POST")
    assert reply["status"] == 405
    assert reply["data"]["allowed"] == ["GET"]
    reply = await client.request("books", action="PUT")  # PUT needs a pk
    assert reply["status"] == 405 and reply["data"]["allowed"] == ["GET", "POST"]


async def test_read_only_hook_refuses_writes(connect, token):
    client = await connect(token=token)
    reply = await client.request("readonly", action="POST", data={"title": "x"})
    assert reply["status"] == 405 and reply["data"]["allowed"] == ["GET"]


async def test_custom_namespace_and_multiple_verbs(connect):
    client = await connect()
    for verb in ("POST", "PATCH"):
        reply = await client.request("books", namespace="echo-both", action=verb, data={"a": 1})
        assert reply["status"] == 201
        assert reply["data"]["action"] == verb and reply["data"]["data"] == {"a": 1}


async def test_plain_api_hook_route(connect):
    client = await connect()
    reply = await client.request("tools", namespace="route", action="POST")
    assert reply["data"] == {"action": "POST"}
    assert (await client.request("tools"))["status"] == 404  # no CRUD on a plain APIHook


async def test_async_action_gets_scope(connect, token):
    client = await connect(token=token)
    reply = await client.request("books", namespace="async_echo", query={"q": "x", "n": 3})
    assert reply["data"] == {"query": {"q": "x", "n": "3"}, "user": "alice"}


async def test_reply_without_ack_is_emitted_to_requester_only(connect):
    first, second = await connect(), await connect()
    reply = await first.request("books", namespace="count", request_id="no-ack", ack=False)
    assert reply["status"] == 200 and reply["requestId"] == "no-ack"
    assert await second.receive_nothing(0.3)
    assert await first.receive_nothing(0.2)  # exactly once


async def test_concurrent_clients_get_their_own_replies(connect):
    await make_books(3)
    clients = [await connect() for _ in range(4)]

    async def ask(i: int, client):
        replies = await asyncio.gather(
            *(
                client.request("books", namespace="async_echo", query={"who": f"{i}-{j}"})
                for j in range(10)
            )
        )
        return [(r["requestId"], r["data"]["query"]["who"]) for r in replies]

    results = await asyncio.gather(*(ask(i, c) for i, c in enumerate(clients)))
    for i, pairs in enumerate(results):
        assert [who for _, who in pairs] == [f"{i}-{j}" for j in range(10)]
    for client in clients:
        assert await client.receive_nothing(0.1)


async def test_self_emit_reaches_requester_before_reply(connect):
    client = await connect()
    reply = await client.request(
        "books", namespace="shout", action="POST", data="hi", ack=False, request_id="s"
    )
    assert reply["data"] == {"sent": True}
    pushed = await client.receive("books", timeout=1)
    assert pushed == {"shout": "hi"}


async def test_action_may_return_a_serializer(connect):
    await make_books(2)
    client = await connect()
    reply = await client.request("books", namespace="latest")
    assert reply["status"] == 200 and reply["data"]["title"] == "book 01"
