"""Delivery across processes through a real redis-server: two uvicorn servers, shells.

The servers serve tests/observers/asgi.py, which registers ``NoteHook`` (no ``event``) as
``notes`` and ``jottings``; the shells never import it, so they know no hook name at all.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import override_settings

from djira.delivery.redis import SILENCE, TIMEOUT
from djira.testing import SocketCommunicator, free_port
from tests.conftest import ROOT
from tests.observers.blackhole import BlackHoleProxy
from tests.observers.conftest import RedisProcess, on, run_django, start_observed_server, subscribe
from tests.testapp.models import Book
from tests.testapp.observed import NoteHook

pytestmark = pytest.mark.usefixtures("db_")

SHELL_KNOWS_NO_HOOK_NAME = (
    "import sys\n"
    "assert 'djira.consumer' not in sys.modules and 'tests.observers.asgi' not in sys.modules\n"
)


async def run_shell(redis_url: str, code: str) -> None:
    """``django shell -c code`` with ``REDIS_URL``, without blocking the event loop."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": ROOT,
        "DJIRA_REDIS_URL": redis_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "django", "shell", "-c", SHELL_KNOWS_NO_HOOK_NAME + code, env=env
    )
    assert await asyncio.wait_for(process.wait(), 120) == 0


async def test_change_saved_on_one_server_reaches_a_client_on_another(redis_servers):
    server_a, server_b = redis_servers
    async with SocketCommunicator(server_a.url) as a, SocketCommunicator(server_b.url) as b:
        await subscribe(a)
        created = await b.request("observed", action="POST", data={"title": "from B"})
        assert created["status"] == 201
        push = await a.receive("observed", match=on("subscribe", type="create"))
        assert push["data"] == created["data"]
        assert push["room"] == "book"


async def test_burst_from_a_shell_reaches_hooks_registered_only_in_asgi(
    redis_servers, redis_server
):
    assert NoteHook.event is None  # registered only by consumer.register in the asgi module
    server_a, server_b = redis_servers
    count = 1000
    clients = [SocketCommunicator(s.url, timeout=30) for s in (server_a, server_b)]
    for client in clients:
        await client.connect()
    try:
        for client in clients:
            assert await subscribe(client, hook="notes") == ["book"]
        # One commit per change (autocommit): 1,000 separate publishes.
        code = (
            "from tests.testapp.models import Book\n"
            f"for i in range({count}): Book.objects.create(title=f'burst {{i}}')\n"
        )
        shell = asyncio.create_task(run_shell(redis_server.url, code))
        for client in clients:
            titles = []
            for _ in range(count):
                push = await client.receive("notes", match=on("subscribe", type="create"))
                titles.append(push["data"]["title"])
            assert titles == [f"burst {i}" for i in range(count)]
        await shell
        for client in clients:
            assert await client.receive_nothing(0.3, "notes")
    finally:
        for client in clients:
            await client.disconnect()


async def test_each_server_pushes_under_the_name_its_socket_subscribed_through(
    redis_servers, redis_server
):
    server_a, server_b = redis_servers
    async with SocketCommunicator(server_a.url) as a, SocketCommunicator(server_b.url) as b:
        await subscribe(a, hook="notes")
        await subscribe(b, hook="jottings")
        code = "from tests.testapp.models import Book\nBook.objects.create(title='named')\n"
        await run_shell(redis_server.url, code)
        push_a = await a.receive("notes", match=on("subscribe"))
        push_b = await b.receive("jottings", match=on("subscribe"))
        assert (push_a["event"], push_a["data"]["title"]) == ("notes", "named")
        assert (push_b["event"], push_b["data"]["title"]) == ("jottings", "named")
        assert await a.receive_nothing(0.2, "jottings")
        assert await b.receive_nothing(0.2, "notes")


async def test_push_from_a_shell_is_recorded_by_the_server_that_delivers_it(
    redis_servers, redis_server
):
    server_a, _ = redis_servers
    async with SocketCommunicator(server_a.url) as client:
        await subscribe(client)
        before = (await client.request("observed", namespace="pushes"))["data"]
        code = "from tests.testapp.models import Book\nBook.objects.create(title='recorded')\n"
        await run_shell(redis_server.url, code)
        await client.receive("observed", match=on("subscribe", type="create"))
        after = (await client.request("observed", namespace="pushes"))["data"]
        # (More than one if a socket of an earlier test is still being disconnected.)
        assert after - before >= 1


async def test_emit_from_a_process_without_a_server_loop_goes_through_redis(
    redis_servers, redis_server
):
    from djira.observers import emit
    from djira.server import emit_soon, get_default_server

    server_a, _ = redis_servers
    async with SocketCommunicator(server_a.url) as client:
        # A subscription waits until the server reads the Redis log (its listener starts
        # with the first connection): an emit published before that would be missed.
        await subscribe(client)
        redis_settings = {
            **settings.DJIRA_SETTINGS,
            "DELIVERY_BACKEND": "redis",
            "REDIS_URL": redis_server.url,
        }
        with override_settings(DJIRA_SETTINGS=redis_settings):
            # This test process serves no sockets: both publish on djira's channel.
            await sync_to_async(emit)("broadcast", {"via": "observers.emit"})
            await sync_to_async(emit_soon)(get_default_server(), "broadcast", {"via": "emit_soon"})
        assert (await client.receive("broadcast")) == {"via": "observers.emit"}
        assert (await client.receive("broadcast")) == {"via": "emit_soon"}


async def test_redis_outage_is_logged_once_each_way_and_delivery_resumes():
    redis = RedisProcess().start()
    restarted = RedisProcess(redis.port)
    server = start_observed_server(DJIRA_REDIS_URL=redis.url)
    try:
        async with SocketCommunicator(server.url) as client:
            await subscribe(client)
            redis.stop()
            # Requests are still served, and local changes still reach local sockets.
            for i in range(5):
                created = await client.request(
                    "observed", action="POST", data={"title": f"while down {i}"}
                )
                assert created["status"] == 201
                push = await client.receive("observed", match=on("subscribe", type="create"))
                assert push["data"]["title"] == f"while down {i}"
            restarted.start()
            redis_settings = {
                **settings.DJIRA_SETTINGS,
                "DELIVERY_BACKEND": "redis",
                "REDIS_URL": redis.url,
            }
            # The server listens again after its back-off (0.5 s, doubling): save from this
            # process (no socket server, so through Redis) until a push comes through.
            with override_settings(DJIRA_SETTINGS=redis_settings):
                for attempt in range(60):
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
        assert log.count(f"Redis at {redis.url} is unreachable") == 1, log
        # The cause is named: the listener's read was closed, or the publisher was refused.
        assert "Connection closed" in log or "Connection refused" in log, log
        assert log.count(f"Redis at {redis.url} is reachable again") == 1, log
        assert "Cannot receive from redis" not in log and "Cannot publish" not in log
    finally:
        server.stop()
        redis.stop()
        restarted.stop()


def test_shell_with_the_memory_backend_says_once_that_nobody_can_receive():
    code = (
        "from tests.testapp.models import Book\n"
        "for i in range(3): Book.objects.create(title=f'unheard {i}')\n"
    )
    done = run_django(code, DJIRA_TEST_DELIVERY_BACKEND="memory")
    assert done.stderr.count("no subscriber can receive") == 1, done.stderr
    assert "'database' backend" in done.stderr


def test_shell_during_a_redis_outage_says_it_once():
    url = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    code = (
        "from tests.testapp.models import Book\n"
        "for i in range(200): Book.objects.create(title=f'lost {i}')\n"
    )
    done = run_django(code, DJIRA_REDIS_URL=url)
    assert done.stderr.count(f"Redis at {url} is unreachable") == 1, done.stderr


async def test_emit_from_a_worker_reaches_sockets_that_subscribed_to_no_observer(redis_server):
    from djira.observers import emit

    server = start_observed_server(DJIRA_REDIS_URL=redis_server.url)
    try:
        # Only connected: the server listens to djira's channel from its first connection.
        async with SocketCommunicator(server.url) as client:
            redis_settings = {
                **settings.DJIRA_SETTINGS,
                "DELIVERY_BACKEND": "redis",
                "REDIS_URL": redis_server.url,
            }
            with override_settings(DJIRA_SETTINGS=redis_settings):
                # Its listener subscribes to Redis in the background: send until it is heard.
                for attempt in range(20):
                    await sync_to_async(emit)("broadcast", {"attempt": attempt})
                    try:
                        pushed = await client.receive("broadcast", timeout=0.5)
                    except AssertionError:
                        continue
                    assert pushed["attempt"] <= attempt
                    break
                else:
                    raise AssertionError("the worker's emit never arrived")
    finally:
        server.stop()


async def saved_until_pushed(client, redis_url: str, title: str, within: float) -> None:
    """Save books from this process (through Redis) until one reaches ``client``."""
    start = time.monotonic()
    redis_settings = {
        **settings.DJIRA_SETTINGS,
        "DELIVERY_BACKEND": "redis",
        "REDIS_URL": redis_url,
    }
    with override_settings(DJIRA_SETTINGS=redis_settings):
        attempt = 0
        while time.monotonic() - start < within:
            attempt += 1
            await sync_to_async(Book.objects.create)(title=f"{title} {attempt}")
            try:
                push = await client.receive("observed", timeout=0.5, match=on("subscribe"))
            except AssertionError:
                continue
            if push["data"]["title"].startswith(title):
                return
    raise AssertionError(f"no push {title!r} arrived within {within} s")


async def emitted_until_received(client, redis_url: str, within: float) -> None:
    """Emit to ``client`` through python-socketio's own Redis manager (as another process's
    ``await sio.emit(...)`` does) until one arrives."""
    import socketio

    manager = socketio.AsyncRedisManager(redis_url, write_only=True)
    start, attempt = time.monotonic(), 0
    while time.monotonic() - start < within:
        attempt += 1
        await manager.emit("hello", {"n": attempt}, room=client.sid, namespace="/")
        try:
            await client.receive("hello", timeout=0.5)
            return
        except AssertionError:
            continue
    raise AssertionError(f"no emit through python-socketio's manager within {within} s")


async def test_a_connection_that_dies_silently_is_replaced_and_pushes_resume(redis_server):
    # The server reaches Redis through a proxy that will stop forwarding without closing.
    proxy = await BlackHoleProxy(redis_server.port).start()
    server = await asyncio.to_thread(start_observed_server, DJIRA_REDIS_URL=proxy.url())
    try:
        async with SocketCommunicator(server.url) as client:
            await subscribe(client)
            # Other processes publish on the real port: only the server's side goes dead.
            await saved_until_pushed(client, redis_server.url, "before", within=10)
            await emitted_until_received(client, redis_server.url, within=10)
            # A quiet but healthy connection answers the listener's ping: kept, nothing said.
            await asyncio.sleep(SILENCE + TIMEOUT + 0.5)
            assert "is unreachable" not in server.read_log()
            assert proxy.swallow() > 0
            accepted = proxy.accepted
            # Pings go unanswered: noticed within a few seconds, then a new connection.
            await saved_until_pushed(client, redis_server.url, "after", within=12)
            assert proxy.accepted > accepted
            # python-socketio's own listener (remote emits, remote disconnects) came back too.
            await emitted_until_received(client, redis_server.url, within=12)
        log = server.read_log()
        assert f"Redis at {proxy.url()} is unreachable" in log, log
        # Said once back, after (the last time) it was said down.
        back = log.rfind(f"Redis at {proxy.url()} is reachable again")
        assert back > log.rfind("is unreachable"), log
    finally:
        await asyncio.to_thread(server.stop)
        await proxy.stop()
