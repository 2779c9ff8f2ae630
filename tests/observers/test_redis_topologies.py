"""``REDIS_URL`` through Redis Sentinel: a real redis-server watched by a real sentinel
(``redis-server --sentinel``), two uvicorn servers given only the sentinel's address."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from djira import checks
from djira.testing import SocketCommunicator, free_port
from tests._redis import REDIS_SERVER, RedisProcess
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


async def test_servers_that_know_only_the_sentinel_share_pushes(sentinel_url):
    servers = [start_observed_server(DJIRA_REDIS_URL=sentinel_url) for _ in range(2)]
    try:
        async with (
            SocketCommunicator(servers[0].url) as a,
            SocketCommunicator(servers[1].url) as b,
        ):
            await subscribe(a)
            created = await b.request("observed", action="POST", data={"title": "via sentinel"})
            assert created["status"] == 201
            push = await a.receive("observed", match=on("subscribe", type="create"))
        assert push["data"]["title"] == "via sentinel"
        assert push["offset"] is not None  # numbered in the master the sentinel named
    finally:
        for server in servers:
            server.stop()


def test_a_sentinel_url_needs_a_service_name():
    with djira_settings(REDIS_URL="redis+sentinel://127.0.0.1:26379/0"):
        [error] = checks.check_redis()
    assert error.id == "djira.E010" and "service" in error.msg
    with djira_settings(REDIS_URL=f"redis+sentinel://127.0.0.1:26379/0/{SERVICE}"):
        assert checks.check_redis() == []
