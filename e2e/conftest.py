"""End-to-end fixtures: the example project under uvicorn, Redis, and headless Chromium.

The example runs exactly as a user starts it (``example.asgi:application`` under uvicorn)
over a temporary SQLite file, with a private ``redis-server`` so that changes saved in
another process (``manage.py shell``) reach subscribers and a second server process shows
up in the console.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from djira.testing import LiveServer, free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Redis:
    """A throwaway ``redis-server`` on a free port, no persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None:
                    raise RuntimeError("redis-server exited") from None
                import time

                time.sleep(0.02)  # startup of a subprocess, not a test condition
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis | None]:
    """A private Redis, or None where ``redis-server`` is not installed (apt: redis-server)."""
    if shutil.which("redis-server") is None:
        yield None
        return
    server = Redis()
    yield server
    server.stop()


@pytest.fixture
def requires_redis(redis_server) -> Redis:
    if redis_server is None:
        pytest.skip("redis-server is not installed: no second process, no push from a shell")
    return redis_server


@pytest.fixture(scope="session")
def example_env(tmp_path_factory, redis_server) -> dict[str, str]:
    db = tmp_path_factory.mktemp("example") / "db.sqlite3"
    env = {
        **os.environ,
        "DJIRA_EXAMPLE_DB": str(db),
        "DJIRA_REDIS_URL": redis_server.url if redis_server else "",
        "DJANGO_SETTINGS_MODULE": "example.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(EXAMPLE)]),
        "DJANGO_DEBUG": "1",
    }
    if os.environ.get("DJIRA_TEST_DATABASE") == "postgres":  # python -m tests._postgres ...
        env["DJIRA_EXAMPLE_PG_PORT"] = os.environ["DJIRA_TEST_PG_PORT"]
    manage(env, "demo", "--no-serve")
    # A staff user without djira's permissions, and the demo tokens for Python clients.
    manage(
        env,
        "shell",
        "-c",
        (
            "from django.contrib.auth import get_user_model;"
            "User = get_user_model();"
            "User.objects.create_user('staffer', password='staffer', is_staff=True)"
        ),
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def tokens(example_env) -> dict[str, str]:
    out = manage(
        example_env,
        "shell",
        "-c",
        (
            "from rest_framework.authtoken.models import Token;"
            "print('TOKENS', *(f'{t.user.username}={t.key}' for t in Token.objects.all()))"
        ),
    )
    line = next(line for line in out.splitlines() if line.startswith("TOKENS "))
    return dict(item.split("=") for item in line.split()[1:])


@pytest.fixture(scope="session")
def example_server(example_env) -> Iterator[LiveServer]:
    server = LiveServer("example.asgi:application", env=example_env, cwd=str(EXAMPLE)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


def login(browser, server: LiveServer, username: str, password: str):
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    return page


@pytest.fixture
def admin_page(browser, example_server):
    page = login(browser, example_server, "admin", "admin")
    yield page
    page.context.close()


class ThreadedClient:
    """A python-socketio ``AsyncClient`` (websocket, through aiohttp) on its own loop thread.

    The sync ``socketio.Client`` needs the websocket-client package for websockets and, over
    long-polling, takes up to the ping interval to disconnect; this one closes at once.
    """

    def __init__(self, url: str, token: str) -> None:
        import socketio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = socketio.AsyncClient(reconnection=False)
        self.disconnected = threading.Event()
        self.client.on("disconnect", self._on_disconnect)
        self.run(
            self.client.connect(
                url, auth={"token": token}, transports=["websocket"], wait_timeout=5
            )
        )

    async def _on_disconnect(self, *args: object) -> None:
        self.disconnected.set()

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def sid(self) -> str:
        return self.client.get_sid()

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    def call(self, event: str, data: object, timeout: float = 5) -> dict:
        return self.run(self.client.call(event, data, timeout=timeout))

    def disconnect(self) -> None:
        if self.client.connected:
            self.run(self.client.disconnect())

    def close(self) -> None:
        self.disconnect()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def sio_client(example_server, tokens):
    """``sio_client(user, url)`` -> a connected Socket.IO client (the demo user); closed after."""
    clients: list[ThreadedClient] = []

    def make(user: str = "demo", url: str | None = None) -> ThreadedClient:
        clients.append(ThreadedClient(url or example_server.url, tokens[user]))
        return clients[-1]

    yield make
    for client in clients:
        client.close()
