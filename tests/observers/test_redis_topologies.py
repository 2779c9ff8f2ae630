"""``REDIS_URL`` beyond one Redis server: through Redis Sentinel (a real redis-server watched
by a real sentinel, ``redis-server --sentinel``) and on a Redis Cluster of three masters;
two uvicorn servers given only the sentinel's address, or the cluster's nodes."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import pytest

from djira import checks
from djira.testing import SocketCommunicator, free_port
from tests._redis import REDIS_SERVER, RedisCluster, RedisProcess
from tests.observers.conftest import on, start_observed_server, subscribe
from tests.test_checks import djira_settings

pytestmark = pytest.mark.usefixtures("db_")

SERVICE = "djira-master"


@pytest.fixture
def sentinel_url(tmp_path: Path):
    master = RedisProcess().start()
    port = free_port()
    config = tmp_path / "sentinel.conf"  # a sentinel rewrites its configuration file
    config.write_text(
        f"port {port}\nbind 127.0.0.1\nsentinel monitor {SERVICE} 127.0.0.1 {master.port} 1\n"
    )
    sentinel = subprocess.Popen(
        [REDIS_SERVER, str(config), "--sentinel"], stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield f"redis+sentinel://127.0.0.1:{port}/0/{SERVICE}"
    sentinel.terminate()
    sentinel.wait(10)
    master.stop()


@pytest.fixture
def cluster_url(tmp_path: Path):
    cluster = RedisCluster(str(tmp_path)).start()
    yield cluster.url
    cluster.stop()


@pytest.fixture(params=["sentinel", "cluster"])
def topology_url(request):
    return request.getfixturevalue(f"{request.param}_url")


async def test_servers_share_pushes_presence_and_history(topology_url):
    env = {"DJIRA_REDIS_URL": topology_url, "DJIRA_TEST_HEARTBEAT": "1"}
    servers = [start_observed_server(**env) for _ in range(2)]
    try:
        async with (
            SocketCommunicator(servers[0].url) as a,
            SocketCommunicator(servers[1].url) as b,
        ):
            await subscribe(a)
            pushes = []
            for title in ("first", "second"):
                created = await b.request("observed", action="POST", data={"title": title})
                assert created["status"] == 201
                pushes.append(await a.receive("observed", match=on("subscribe", type="create")))
            # Numbered in Redis: the sentinel's master, or the cluster's node for the room.
            assert [p["data"]["title"] for p in pushes] == ["first", "second"]
            assert pushes[1]["offset"] == pushes[0]["offset"] + 1
            # A client that saw the first catches up with the second from the history.
            since = {"book": {"epoch": pushes[0]["epoch"], "offset": pushes[0]["offset"]}}
            again = await b.send(
                "observed",
                {
                    "namespace": "subscribe",
                    "action": "SUBSCRIPTION",
                    "requestId": "s",
                    "since": since,
                },
            )
            assert again["recovered"] is True
            caught = await b.receive("observed", match=on("subscribe", type="create"))
            assert caught["data"]["title"] == "second"
            # Presence read by the other server.
            book = pushes[0]["data"]["id"]
            await subscribe(a, hook="rooms", pk=book)
            seen = await b.request("rooms", namespace="presence", pk=book)
            assert seen["data"][0]["connections"] == 1
    finally:
        for server in servers:
            server.stop()


async def test_the_registry_of_processes_on_a_cluster(cluster_url, settings):
    from djira.delivery.processes import RedisRegistry
    from djira.server import DjiraServer

    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "REDIS_URL": cluster_url}
    registry, server = RedisRegistry(cluster_url), DjiraServer()
    await registry.beat(server, "one", '{"process": {"id": "one"}}', ttl=60)
    await registry.beat(server, "two", '{"process": {"id": "two"}}', ttl=60)
    await asyncio.to_thread(registry.flag, "watched", 5)
    assert await registry.flagged(server, "watched") is True
    others = await asyncio.to_thread(registry.others, "one")
    assert [s["process"]["id"] for s in others] == ["two"]


def test_a_sentinel_url_needs_a_service_name():
    with djira_settings(REDIS_URL="redis+sentinel://127.0.0.1:26379/0"):
        [error] = checks.check_redis()
    assert error.id == "djira.E010" and "service" in error.msg
    with djira_settings(REDIS_URL=f"redis+sentinel://127.0.0.1:26379/0/{SERVICE}"):
        assert checks.check_redis() == []
