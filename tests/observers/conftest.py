"""Observer fixtures: a real redis-server, servers sharing it, and small request helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from djira.testing import LiveServer
from tests._redis import REDIS_SERVER, RedisProcess
from tests.conftest import ROOT, start_server


@pytest.fixture(scope="session")
def redis_server():
    if not shutil.which("redis-server") and not __import__("os").path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed")
    redis = RedisProcess().start()
    yield redis
    redis.stop()


def start_observed_server(**env: str) -> LiveServer:
    """uvicorn on tests/observers/asgi.py: the test server plus hooks only it registers."""
    return start_server("tests.observers.asgi:application", **env)


@pytest.fixture(scope="session")
def redis_servers(live_server_factory, redis_server):
    """Two uvicorn processes sharing ``redis_server`` (stopped before the database goes)."""
    env = {"DJIRA_REDIS_URL": redis_server.url}
    servers = [start_observed_server(**env), start_observed_server(**env)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def database_servers(live_server_factory):
    """Two uvicorn processes on the database backend (the test database is what they share)."""
    env = {"DJIRA_TEST_DELIVERY_BACKEND": "database"}
    servers = [start_observed_server(**env), start_observed_server(**env)]
    yield servers
    for server in servers:
        server.stop()


def run_django(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m django shell -c code``: a plain Django process serving no sockets.

    Its stderr holds what the ``djira`` loggers said (tests/settings.py logs to console).
    """
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": ROOT}
    environ.pop("DJIRA_REDIS_URL", None)
    command = [sys.executable, "-m", "django", "shell", "-c", code]
    done = subprocess.run(
        command, env={**environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def alice(db_):
    user = get_user_model().objects.create_user("alice", password="pw-alice-123")
    return user, Token.objects.create(user=user).key


@pytest.fixture
def bob(db_):
    user = get_user_model().objects.create_user("bob", password="pw-bob-123")
    return user, Token.objects.create(user=user).key


async def scenario(client, name: str, **data):
    """Run a server-side scenario of tests/testapp/observed.py; return its data."""
    reply = await client.request(
        "observed", namespace="scenario", action="POST", data={"name": name, **data}
    )
    assert reply["status"] == 200, reply
    return reply["data"]


async def subscribe(client, namespace: str = "subscribe", hook: str = "observed", **kwargs):
    reply = await client.request(hook, namespace=namespace, action="SUBSCRIPTION", **kwargs)
    assert reply["status"] == 200, reply
    return reply["data"]["rooms"]


def on(namespace: str, **fields):
    """A ``receive(match=...)`` predicate for pushes of one route (and field values)."""

    def match(push):
        return (
            isinstance(push, dict)
            and push.get("namespace") == namespace
            and push.get("action") == "SUBSCRIPTION"
            and all(push.get(k) == v for k, v in fields.items())
        )

    return match
