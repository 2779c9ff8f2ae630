"""Delivery across processes through a real redis-server: two uvicorn servers, commands."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import override_settings

from djira.testing import SocketCommunicator
from tests.conftest import ROOT, start_server
from tests.observers.conftest import RedisProcess, on, subscribe
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")


async def run_command(redis_url: str, code: str) -> None:
    """``django-admin shell -c code``: a plain Django process serving no sockets."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": ROOT,
        "DJIRA_REDIS_URL": redis_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "django", "shell", "-c", code, env=env, cwd=ROOT
    )
    assert await asyncio.wait_for(process.wait(), 60) == 0


async def test_change_saved_on_one_process_reaches_a_client_on_another(redis_servers):
    server_a, server_b = redis_servers
    async with SocketCommunicator(server_a.url) as a, SocketCommunicator(server_b.url) as b:
        await subscribe(a)
        created = await b.request("observed", action="POST", data={"title": "from B"})
        assert created["status"] == 201
        push = await a.receive("observed", match=on("subscribe", type="create"))
        assert push["data"] == created["data"]
        assert push["room"] == "book"


async def test_change_saved_by_a_management_command_reaches_every_process(
    redis_servers, redis_server
):
    server_a, server_b = redis_servers
    async with SocketCommunicator(server_a.url) as a, SocketCommunicator(server_b.url) as b:
        await subscribe(a)
        await subscribe(b)
        # Observers connected in AppConfig.ready(), with no consumer module imported.
        code = (
            "import sys\n"
            "from tests.testapp.models import Book\n"
            "assert 'djira.consumer' not in sys.modules\n"
            "Book.objects.create(title='from shell')\n"
        )
        await run_command(redis_server.url, code)
        for client in (a, b):
            push = await client.receive("observed", match=on("subscribe", type="create"))
            assert push["data"]["title"] == "from shell"


async def test_burst_of_a_thousand_changes_loses_nothing_and_keeps_order(
    redis_servers, redis_server
):
    server_a, server_b = redis_servers
    count = 1000
    async with SocketCommunicator(server_a.url, timeout=30) as a:
        await subscribe(a)
        code = (
            "from django.db import transaction\n"
            "from tests.testapp.models import Book\n"
            "with transaction.atomic():\n"
            f"    for i in range({count}): Book.objects.create(title=f'burst {{i}}')\n"
        )
        command = asyncio.create_task(run_command(redis_server.url, code))
        titles = []
        for _ in range(count):
            push = await a.receive("observed", match=on("subscribe", type="create"))
            titles.append(push["data"]["title"])
        await command
        assert titles == [f"burst {i}" for i in range(count)]
        assert await a.receive_nothing(0.3, "observed")


async def test_redis_outage_keeps_requests_served_and_delivery_resumes(live_server_factory):
    redis = RedisProcess().start()
    restarted = RedisProcess(redis.port)
    server = start_server(DJIRA_REDIS_URL=redis.url)
    try:
        async with SocketCommunicator(server.url) as client:
            await subscribe(client)
            redis.stop()
            # Requests are still served, and local changes still reach local sockets.
            created = await client.request("observed", action="POST", data={"title": "while down"})
            assert created["status"] == 201
            push = await client.receive("observed", match=on("subscribe", type="create"))
            assert push["data"]["title"] == "while down"
            restarted.start()
            redis_settings = {**settings.DJIRA_SETTINGS, "REDIS_URL": redis.url}
            # The server re-subscribes with a back-off (1 s, 2 s, 4 s...): save from this
            # process (no socket server, so through Redis) until a push comes through.
            with override_settings(DJIRA_SETTINGS=redis_settings):
                for attempt in range(40):
                    await sync_to_async(Book.objects.create)(title=f"after {attempt}")
                    try:
                        push = await client.receive("observed", timeout=0.5, match=on("subscribe"))
                    except AssertionError:
                        continue
                    assert push["data"]["title"].startswith("after")
                    break
                else:
                    raise AssertionError("no push arrived after Redis came back")
        log = server.read_log()
        assert f"Redis at {redis.url} failed" in log and "Connection refused" in log
    finally:
        server.stop()
        redis.stop()
        restarted.stop()


async def test_emit_from_a_process_without_a_server_loop_goes_through_redis(
    redis_servers, redis_server
):
    from djira.observers import emit
    from djira.server import emit_soon, get_default_server

    server_a, _ = redis_servers
    async with SocketCommunicator(server_a.url) as client:
        redis_settings = {**settings.DJIRA_SETTINGS, "REDIS_URL": redis_server.url}
        with override_settings(DJIRA_SETTINGS=redis_settings):
            # This test process serves no sockets: both go through a write-only manager.
            await sync_to_async(emit)("broadcast", {"via": "observers.emit"})
            await sync_to_async(emit_soon)(get_default_server(), "broadcast", {"via": "emit_soon"})
        assert (await client.receive("broadcast")) == {"via": "observers.emit"}
        assert (await client.receive("broadcast")) == {"via": "emit_soon"}
