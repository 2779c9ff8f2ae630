"""The database delivery backend over real servers: any process publishes, nothing committed
is lost when its writer dies, history outlives a server, and a rollback sends nothing.

The servers are uvicorn subprocesses on the test database (SQLite, or PostgreSQL in the
suite's second run), with no Redis: the default backend without ``REDIS_URL`` is the
database's outbox.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest

from djira.delivery.models import Outbox
from djira.testing import SocketCommunicator
from tests.conftest import ROOT
from tests.observers.conftest import on, subscribe
from tests.observers.test_history import subscribe_since

pytestmark = [
    pytest.mark.usefixtures("db_"),
    pytest.mark.skipif(
        os.environ.get("DJIRA_TEST_SUITE_BACKEND", "database") != "database",
        reason="the database backend's own guarantees",
    ),
]


async def run_writer(code: str) -> int:
    """``django shell -c code`` (no server, no Redis); its exit status. A coroutine."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": ROOT}
    env.pop("DJIRA_REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "django", "shell", "-c", code, env=env, cwd=ROOT
    )
    return await asyncio.wait_for(process.wait(), 120)


async def book_pushes(client: SocketCommunicator, count: int) -> list[dict[str, Any]]:
    return [
        await client.receive("observed", match=on("subscribe", room="book"), timeout=10)
        for _ in range(count)
    ]


@pytest.fixture(scope="module")
def server(live_server_factory):
    return live_server_factory()


async def test_a_shell_change_reaches_a_subscriber_without_redis(server):
    async with SocketCommunicator(server.url) as client:
        await subscribe(client)
        code = (
            "from tests.testapp.models import Book\n"
            "for i in range(3): Book.objects.create(title=f'from a shell {i}')\n"
        )
        assert await run_writer(code) == 0
        pushes = await book_pushes(client, 3)
    assert [p["data"]["title"] for p in pushes] == [f"from a shell {i}" for i in range(3)]
    offsets = [p["offset"] for p in pushes]
    assert offsets == list(range(offsets[0], offsets[0] + 3))


async def test_a_writer_killed_right_after_its_commit_loses_no_push(server):
    async with SocketCommunicator(server.url) as client:
        await subscribe(client)
        # The first commit callback kills the process: djira's own callback, which numbers
        # the rows, never runs. The rows committed with the change; a server numbers them.
        code = (
            "import os, signal\n"
            "from django.db import transaction\n"
            "from tests.testapp.models import Book\n"
            "with transaction.atomic():\n"
            "    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))\n"
            "    Book.objects.create(title='committed, then killed')\n"
        )
        assert await run_writer(code) == -9
        (push,) = await book_pushes(client, 1)
    assert push["type"] == "create"
    assert push["data"]["title"] == "committed, then killed"
    assert isinstance(push["offset"], int)


async def test_a_rolled_back_change_writes_and_sends_nothing(server):
    async with SocketCommunicator(server.url) as client:
        await subscribe(client)
        code = (
            "from django.db import transaction\n"
            "from tests.testapp.models import Book\n"
            "try:\n"
            "    with transaction.atomic():\n"
            "        Book.objects.create(title='rolled back')\n"
            "        raise RuntimeError\n"
            "except RuntimeError:\n"
            "    pass\n"
            "Book.objects.create(title='kept')\n"
        )
        assert await run_writer(code) == 0
        (push,) = await book_pushes(client, 1)
        assert push["data"]["title"] == "kept"
        with pytest.raises(AssertionError):
            await client.receive("observed", match=on("subscribe", room="book"), timeout=1)
    payloads = [p async for p in Outbox.objects.values_list("payload", flat=True)]
    assert payloads and not any("rolled back" in payload for payload in payloads)


async def test_history_outlives_the_server_that_delivered_it(live_server_factory):
    first = live_server_factory()
    async with SocketCommunicator(first.url) as client:
        reply = await subscribe_since(client, None)
        since = {"book": reply["positions"]["book"]}
        for i in range(3):
            created = await client.request("observed", action="POST", data={"title": f"h{i}"})
            assert created["status"] == 201
        await book_pushes(client, 3)
    first.stop()
    second = live_server_factory()
    async with SocketCommunicator(second.url) as client:
        reply = await subscribe_since(client, since)
        assert reply["recovered"] is True, reply
        pushes = await book_pushes(client, 3)
    assert [p["data"]["title"] for p in pushes] == ["h0", "h1", "h2"]


async def test_two_servers_deliver_each_others_changes_in_commit_order(live_server_factory):
    one, two = live_server_factory(), live_server_factory()
    async with SocketCommunicator(one.url) as a, SocketCommunicator(two.url) as b:
        await subscribe(a)
        await subscribe(b)
        for i in range(10):
            writer = a if i % 2 else b
            created = await writer.request("observed", action="POST", data={"title": f"c{i}"})
            assert created["status"] == 201
        seen_a, seen_b = await book_pushes(a, 10), await book_pushes(b, 10)
    expected = [f"c{i}" for i in range(10)]
    assert [p["data"]["title"] for p in seen_a] == expected
    assert [p["data"]["title"] for p in seen_b] == expected
    assert [p["offset"] for p in seen_a] == [p["offset"] for p in seen_b]
