"""Fixtures: a real uvicorn server (subprocess) over the test database, and clients for it."""

from __future__ import annotations

import os
import tempfile

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from djira.testing import LiveServer, SocketCommunicator

ROOT = str(__import__("pathlib").Path(__file__).resolve().parent.parent)


def start_server(**env: str) -> LiveServer:
    fd, log_path = tempfile.mkstemp(prefix="djira-server-", suffix=".log")
    os.close(fd)
    return LiveServer(
        "tests.asgi:application",
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": ROOT, **env},
        cwd=ROOT,
        log_path=log_path,
    ).start()


@pytest.fixture(scope="session")
def live_server_factory(django_db_setup, django_db_blocker):
    """Start servers over the (already migrated) test database; stopped at session end."""
    servers: list[LiveServer] = []

    def factory(**env: str) -> LiveServer:
        servers.append(start_server(**env))
        return servers[-1]

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def server(live_server_factory):
    return live_server_factory()


@pytest.fixture
def db_(transactional_db):
    """Committed rows, so the server subprocess sees them."""


@pytest.fixture
def user(db_):
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def other_user(db_):
    return get_user_model().objects.create_user("bob", password="pw-bob-123")


@pytest.fixture
def admin_user(db_):
    return get_user_model().objects.create_superuser("root", password="pw-root-123")


@pytest.fixture
def token(user):
    return Token.objects.create(user=user).key


@pytest.fixture
async def connect(server):
    """``await connect(token=...)`` -> a connected ``SocketCommunicator``, closed after the test."""
    clients: list[SocketCommunicator] = []

    async def _connect(url: str | None = None, **kwargs) -> SocketCommunicator:
        client = SocketCommunicator(url or server.url, **kwargs)
        clients.append(client)
        return await client.connect()

    yield _connect
    for client in clients:
        await client.disconnect()
