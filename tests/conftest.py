"""Fixtures: a real uvicorn server (subprocess) over the test database, and clients for it."""

from __future__ import annotations

import functools
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import TransactionTestCase
from rest_framework.authtoken.models import Token

from djira.testing import LiveServer, SocketCommunicator
from tests.settings import APPLICATION_NAME

ROOT = str(__import__("pathlib").Path(__file__).resolve().parent.parent)


def _is_deadlock(exc: BaseException | None) -> bool:
    while exc is not None:
        if "deadlock detected" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _retrying_deadlocks(teardown: Callable[[Any], None]) -> Callable[[Any], None]:
    """A transactional test's flush, tried again when PostgreSQL picks it as a deadlock's victim.

    Session-scoped servers keep reading and writing djira's tables between tests (heartbeats,
    the outbox's follower, presence). ``TRUNCATE`` locks the tables one after another, so
    a server's transaction that holds one and then reads another can deadlock with it;
    PostgreSQL then aborts one of the two, sometimes the flush, whose transaction rolls back
    whole: trying it again is safe. Production never truncates, so this is the tests' own.
    """

    @functools.wraps(teardown)
    def flush(self: Any) -> None:
        for attempt in range(5):
            try:
                return teardown(self)
            except Exception as exc:
                if attempt == 4 or not _is_deadlock(exc):
                    raise
                time.sleep(0.1 * (attempt + 1))

    return flush


TransactionTestCase._fixture_teardown = _retrying_deadlocks(  # type: ignore[method-assign]
    TransactionTestCase._fixture_teardown
)


def start_server(application: str = "tests.asgi:application", **env: str) -> LiveServer:
    """uvicorn serving ``application`` over the test database, its log in a temporary file."""
    fd, log_path = tempfile.mkstemp(prefix="djira-server-", suffix=".log")
    os.close(fd)
    return LiveServer(
        application,
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
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, plus: no other session left when the test database is dropped."""
    yield
    with django_db_blocker.unblock():
        close_other_sessions()


def close_other_sessions(timeout: float = 2.0) -> None:
    """Leave the test database with no session but ours, so that it can be dropped.

    A stopped server's backends outlive it by a moment; the connections the async tests
    opened through ``sync_to_async`` live in an executor thread that never closes them.
    """
    if connection.vendor != "postgresql":
        return
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            # Other processes' sessions (tests/settings.py names each by its pid) should end
            # by themselves; ours, in threads, will not.
            cursor.execute(f"SELECT pid {others} AND application_name <> %s", [APPLICATION_NAME])
            if not cursor.fetchall() or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        cursor.execute(f"SELECT pg_terminate_backend(pid) {others}")


@pytest.fixture(scope="session")
def server(live_server_factory):
    return live_server_factory()


@pytest.fixture
def servers(db_):
    """``servers(**env)`` starts a live server of this test only, stopped when it ends.

    Set up after ``db_``, so torn down before it: the servers (and any transaction they
    hold) are gone before the database is flushed.
    """
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        started.append(start_server(**env))
        return started[-1]

    yield start
    for server in started:
        server.stop()


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
