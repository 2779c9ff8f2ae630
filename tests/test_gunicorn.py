"""docs/deployment.md's gunicorn command, with two uvicorn workers sharing a Redis.

The command comes from the page; only the application, the worker count and the address
are swapped. Websocket-only clients land on either worker (the kernel picks), and a change
made through one worker reaches a subscriber on the other, as the page says REDIS_URL does.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import socket
import subprocess
import sys
import time

import pytest

from djira.testing import SocketCommunicator, free_port
from tests.conftest import ROOT
from tests.docblocks import DOCS, blocks

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gunicorn") is None
    or importlib.util.find_spec("uvicorn_worker") is None,
    reason="pip install gunicorn uvicorn-worker",
)


def doc_command() -> list[str]:
    (block,) = [
        b for b in blocks(DOCS / "deployment.md") if b.tag == "test" and b.args == "gunicorn"
    ]
    (line,) = [line for line in block.code.splitlines() if line.startswith("gunicorn ")]
    return shlex.split(line)


@pytest.fixture(scope="module")
def redis_server():
    from tests.observers.conftest import REDIS_SERVER, RedisProcess

    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed")
    redis = RedisProcess().start()
    yield redis
    redis.stop()


@pytest.fixture(scope="module")
def gunicorn(redis_server, live_server_factory):
    # live_server_factory: the test database is set up and migrated first.
    port = free_port()
    swaps = {
        "mysite.asgi:application": "tests.asgi:application",
        "4": "2",
        "127.0.0.1:8000": f"127.0.0.1:{port}",
    }
    command = [swaps.get(arg, arg) for arg in doc_command()]
    assert command.count("2") == 1 and "tests.asgi:application" in command, command
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.docs_settings",
        "DJIRA_REDIS_URL": redis_server.url,
        "PYTHONPATH": ROOT,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)  # waiting for a subprocess to listen, not a test condition
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(20)


async def connect(url: str, token: str) -> tuple[SocketCommunicator, int]:
    client = await SocketCommunicator(url, token=token).connect()
    reply = await client.request("docs_whoami", namespace="me")
    return client, reply["data"]["pid"]


async def on_another_worker(url: str, token: str, busy: SocketCommunicator, pid: int):
    """A client on a worker other than ``pid``'s, which ``busy`` keeps occupied meanwhile.

    Idle workers race for each new connection and one may win them all; a worker whose
    loop is blocked cannot accept, so the connection goes to another.
    """
    for _ in range(20):
        await busy.emit("docs_busy", {"namespace": "hold", "action": "POST", "data": 0.5})
        await busy.receive_nothing(0.05)  # let the hold begin
        client, other = await connect(url, token)
        if other != pid:
            return client, other
        await client.disconnect()
    raise AssertionError("every connection landed on the same worker")


async def test_push_crosses_workers_through_redis(gunicorn, user, token):
    subscriber, first = await connect(gunicorn, token)
    writer, second = await on_another_worker(gunicorn, token, subscriber, first)
    try:
        subscribed = await subscriber.request(
            "observed", namespace="subscribe", action="SUBSCRIPTION"
        )
        assert subscribed["status"] == 200
        created = await writer.request("observed", action="POST", data={"title": "Across"})
        assert created["status"] == 201
        push = await subscriber.receive("observed", match=lambda p: p.get("type") == "create")
        assert push["data"]["title"] == "Across"
    finally:
        await subscriber.disconnect()
        await writer.disconnect()
    assert first != second
