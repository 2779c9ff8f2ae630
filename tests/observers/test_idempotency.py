"""Requests applied once: ``idempotencyKey`` over real servers (docs/client.md).

A write whose reply is lost with its connection is sent again with the same key, on the
same server or another one sharing the delivery backend: one row, and the retry gets the
reply the first attempt was given. ``ReplyCatcher`` (test_history's proxy) holds back what
the server sends, keeping it for the test, then cuts the connection: the first reply is
lost to the client but read by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.checks import run_checks
from django.test import override_settings

from djira.delivery.idempotency.database import DatabaseStore, trim
from djira.delivery.idempotency.models import IdempotencyKey
from djira.testing import SocketCommunicator
from tests.conftest import start_server
from tests.observers.test_history import Proxy
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")

BACKEND = os.environ.get("DJIRA_TEST_SUITE_BACKEND", "database")
shared_database = pytest.mark.skipif(
    BACKEND != "database", reason="servers share keys through the database backend"
)


class ReplyCatcher(Proxy):
    """The proxy of test_history, which can also hold back what servers send, keeping it."""

    def __init__(self, target: int) -> None:
        super().__init__(target)
        self.holding = False
        self.held = bytearray()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if writer.get_extra_info("peername")[1] == self.target:  # towards the server
            return await super()._pump(reader, writer)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if self.holding:
                    self.held += data
                    continue
                writer.write(data)
                await writer.drain()
        self.links.discard(writer)
        writer.transport.abort()

    async def held_reply(self, request_id: str) -> dict[str, Any]:
        """The reply to ``request_id`` among what was held back (waits for it, 10 s)."""
        mark = f'"requestId":"{request_id}"'
        deadline = time.monotonic() + 10
        while (at := self.held.decode(errors="replace").find(mark)) < 0:
            assert time.monotonic() < deadline, f"no reply to {request_id} reached the proxy"
            await asyncio.sleep(0.01)
        text = self.held.decode(errors="replace")
        start = text.rfind('{"status":', 0, at)
        reply, _ = json.JSONDecoder().raw_decode(text, start)
        return reply


def key() -> str:
    return str(uuid.uuid4())


async def rows(**lookup: Any) -> int:
    return await sync_to_async(Book.objects.filter(**lookup).count)()


async def cut_and_retried(port: int, token: str, title: str, elsewhere: str | None = None):
    """POST ``title`` to ``books`` through a proxy to the server on ``port``, lose the reply
    with the connection, then send it again with the same key, through the proxy again or
    to the server at ``elsewhere``. The reply the first attempt was sent, and the retry's.
    """
    same = key()
    payload = {"action": "POST", "requestId": "first", "idempotencyKey": same}
    async with ReplyCatcher(port) as proxy:
        client = await SocketCommunicator(proxy.url, token=token, timeout=15).connect()
        proxy.holding = True
        await client.emit("books", {**payload, "data": {"title": title}})
        first = await proxy.held_reply("first")
        proxy.cut()
        with contextlib.suppress(Exception):
            await client.disconnect()
        proxy.holding = False
        proxy.restore()
        async with SocketCommunicator(elsewhere or proxy.url, token=token, timeout=15) as again:
            retry = await again.request(
                "books", action="POST", data={"title": title}, idempotency_key=same
            )
    return first, retry


async def test_a_write_cut_before_its_reply_and_retried_is_applied_once(server, alice):
    first, retry = await cut_and_retried(server.port, alice[1], "once")
    assert first["status"] == 201 and "replayed" not in first
    assert retry["status"] == 201 and retry["replayed"] is True
    assert retry["data"] == first["data"]
    assert retry["requestId"] != first["requestId"]  # the retry's own id, for matching
    assert await rows(title="once") == 1


@shared_database
async def test_a_retry_on_another_server_sharing_the_database_gets_the_reply(servers, alice):
    one, two = servers(), servers()
    first, retry = await cut_and_retried(one.port, alice[1], "elsewhere", two.url)
    assert (retry["status"], retry["data"], retry["replayed"]) == (201, first["data"], True)
    assert await rows(title="elsewhere") == 1


async def test_a_retry_on_another_server_sharing_redis_gets_the_reply(redis_servers, alice):
    one, two = redis_servers
    first, retry = await cut_and_retried(one.port, alice[1], "via redis", two.url)
    assert (retry["status"], retry["data"], retry["replayed"]) == (201, first["data"], True)
    assert await rows(title="via redis") == 1


@pytest.fixture
def gated(servers, tmp_path):
    """A server with the gated hook; ``gated(**settings)``; the gate path to open."""
    gate = tmp_path / "gate"

    def start(env: dict[str, str] | None = None, **settings: Any):
        env = {**(env or {}), "DJIRA_TEST_SETTINGS": json.dumps(settings)}
        return start_server("tests.observers.idempotency_asgi:application", **env), gate

    yield start


async def until_rows(count: int, **lookup: Any) -> None:
    deadline = time.monotonic() + 10
    while await rows(**lookup) < count:
        assert time.monotonic() < deadline, f"no {count} row(s) {lookup}"
        await asyncio.sleep(0.01)


async def test_concurrent_duplicates_run_once_and_share_the_reply(gated, alice):
    _, token = alice
    server, gate = gated()
    try:
        same = key()
        fields = {"action": "POST", "data": {"title": "twice"}, "query": {"gate": str(gate)}}
        async with (
            SocketCommunicator(server.url, token=token, timeout=20) as a,
            SocketCommunicator(server.url, token=token, timeout=20) as b,
        ):
            first = asyncio.create_task(a.request("gated", **fields, idempotency_key=same))
            await until_rows(1, title="twice")  # the first is running, held at the gate
            second = asyncio.create_task(b.request("gated", **fields, idempotency_key=same))
            await asyncio.sleep(0.5)  # the second arrives, and waits: the first still runs
            assert not second.done()  # neither refused (409) nor answered on its own
            gate.touch()
            replies = await asyncio.gather(first, second)
        assert [r["status"] for r in replies] == [201, 201]
        assert replies[0]["data"] == replies[1]["data"]
        assert [r.get("replayed", False) for r in replies] == [False, True]
        assert await rows(title="twice") == 1
    finally:
        server.stop()


async def test_a_duplicate_that_may_not_wait_gets_409(gated, alice):
    _, token = alice
    server, gate = gated(IDEMPOTENCY_WAIT=0)
    try:
        same = key()
        fields = {"action": "POST", "data": {"title": "busy"}, "query": {"gate": str(gate)}}
        async with SocketCommunicator(server.url, token=token, timeout=20) as client:
            first = asyncio.create_task(client.request("gated", **fields, idempotency_key=same))
            await until_rows(1, title="busy")
            busy = await client.request("gated", **fields, idempotency_key=same)
            gate.touch()
            assert (await first)["status"] == 201
            after = await client.request("gated", **fields, idempotency_key=same)
        assert busy["status"] == 409 and busy["data"]["code"] == "idempotency_key_in_use"
        assert after["status"] == 201 and after["replayed"] is True
        assert await rows(title="busy") == 1
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["the suite's", "redis"])
async def test_a_try_again_reply_frees_the_key(gated, alice, request, backend):
    redis = request.getfixturevalue("redis_server") if backend == "redis" else None
    server, _ = gated({"DJIRA_REDIS_URL": redis.url} if redis else None)
    try:
        same = key()
        async with SocketCommunicator(server.url, token=alice[1], timeout=15) as client:
            replies = [
                await client.request(
                    "gated",
                    namespace="flaky",
                    action="POST",
                    data={"title": "later"},
                    idempotency_key=same,
                )
                for _ in range(3)
            ]
        assert [r["status"] for r in replies] == [429, 200, 200]
        assert [r.get("replayed", False) for r in replies] == [False, False, True]
    finally:
        server.stop()


async def test_a_key_reused_for_other_content_is_refused(connect, alice):
    _, token = alice
    client = await connect(token=token)
    same = key()
    created = await client.request(
        "books", action="POST", data={"title": "a"}, idempotency_key=same
    )
    other = await client.request("books", action="POST", data={"title": "b"}, idempotency_key=same)
    assert created["status"] == 201
    assert other["status"] == 422 and other["data"]["code"] == "idempotency_key_reused"
    assert await rows(title="b") == 0


async def test_keys_are_the_users_own(connect, alice, bob):
    same = key()
    replies = []
    for _, token in (alice, bob):
        client = await connect(token=token)
        replies.append(
            await client.request(
                "books", action="POST", data={"title": "ours"}, idempotency_key=same
            )
        )
    assert [r.get("replayed", False) for r in replies] == [False, False]
    assert await rows(title="ours") == 2


async def test_anonymous_connections_keys_are_ignored(connect):
    client = await connect()
    same = key()
    for _ in range(2):
        reply = await client.request(
            "books", action="POST", data={"title": "anon"}, idempotency_key=same
        )
        assert reply["status"] == 201 and "replayed" not in reply
    assert await rows(title="anon") == 2


async def test_reads_ignore_keys(connect, alice):
    _, token = alice
    client = await connect(token=token)
    same = key()
    before = await client.request("books", namespace="count", idempotency_key=same)
    await client.request("books", action="POST", data={"title": "read"})
    after = await client.request("books", namespace="count", idempotency_key=same)
    assert after["data"]["count"] == before["data"]["count"] + 1 and "replayed" not in after


async def test_an_error_reply_is_kept_too(connect, alice):
    _, token = alice
    client = await connect(token=token)
    same = key()
    fields = {"action": "POST", "data": {"title": "bad", "year": -1}}
    first = await client.request("books", **fields, idempotency_key=same)
    again = await client.request("books", **fields, idempotency_key=same)
    assert first["status"] == again["status"] == 400
    assert again["data"] == first["data"] and again["replayed"] is True


@pytest.mark.parametrize("bad", [7, "", "k" * 256, ["k"]])
async def test_a_malformed_key_gets_400(connect, alice, bad):
    _, token = alice
    client = await connect(token=token)
    reply = await client.send(
        "books", {"action": "POST", "data": {"title": "x"}, "idempotencyKey": bad}
    )
    assert reply["status"] == 400 and "idempotencyKey" in reply["data"]["detail"]


# -- the database store, in process ----------------------------------------------------------


def test_the_database_store_takes_over_an_expired_key_only():
    store = DatabaseStore()
    assert store.claim_sync("k" * 64, "f" * 64, "a" * 32) is None
    held = store.claim_sync("k" * 64, "f" * 64, "b" * 32)
    assert held is not None and held.owner == "a" * 32 and held.reply is None
    store.finish_sync("k" * 64, "b" * 32, "not b's", 60)  # b holds nothing: no effect
    store.finish_sync("k" * 64, "a" * 32, '{"status":201,"data":1}', -1)  # kept, expired
    assert IdempotencyKey.objects.get().reply == '{"status":201,"data":1}'
    assert store.claim_sync("k" * 64, "g" * 64, "c" * 32) is None
    row = IdempotencyKey.objects.get()
    assert (row.owner, row.fingerprint, row.reply) == ("c" * 32, "g" * 64, None)


def test_trimming_deletes_expired_keys_only():
    now = time.time()
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(key=f"{i:064}", owner="o" * 32, fingerprint="f" * 64, expires=now - i + 600)
        for i in range(1200)
    )
    assert trim(now) == 599  # expires below now: i > 600
    assert IdempotencyKey.objects.count() == 601
    assert not IdempotencyKey.objects.filter(expires__lt=now).exists()


@pytest.mark.parametrize("name,value", [("IDEMPOTENCY_TTL", 0), ("IDEMPOTENCY_WAIT", -1)])
def test_check_refuses_bad_durations(name, value):
    with override_settings(DJIRA_SETTINGS={name: value}):
        errors = [e for e in run_checks(tags=["djira"]) if e.id == "djira.E006"]
    assert len(errors) == 1 and name in errors[0].msg
