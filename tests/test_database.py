"""Database connections under production conditions, over a real server.

Django recycles connections around each unit of a request's sync work (``CONN_MAX_AGE``,
``CONN_HEALTH_CHECKS``), so a PostgreSQL restart costs at most one failed reply per
connection, and a transaction a request leaves open never reaches the next request run on
the same thread. Requests of several clients run at once on worker threads, each with its
own connection. The ``db`` hook is tests/testapp/dbhooks.py.

Run on PostgreSQL with ``DJIRA_TEST_DATABASE=postgres`` (``make test`` does); on SQLite the
PostgreSQL-only tests are skipped.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from django.conf import settings

from djira.testing import SocketCommunicator
from tests import _postgres
from tests.conftest import ROOT
from tests.testapp.models import Book

POSTGRES = settings.DATABASE == "postgres"
postgres_only = pytest.mark.skipif(not POSTGRES, reason="needs DJIRA_TEST_DATABASE=postgres")


async def state(client: SocketCommunicator) -> dict:
    reply = await client.request("db", namespace="state")
    assert reply["status"] == 200, reply
    return reply["data"]


# -- a PostgreSQL restart ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_postgres():
    """A PostgreSQL server of this module's own, migrated, that a test may restart.

    Restarting the suite's server would break the connections of every other process the
    session keeps (the shared live server, this process's threads), not only the server
    under test.
    """
    if not POSTGRES:
        pytest.skip("needs DJIRA_TEST_DATABASE=postgres")
    server = _postgres.PostgresServer().start()
    try:
        server.createdb("djira_restart")
        env = {**os.environ, **_env(server), "DJANGO_SETTINGS_MODULE": "tests.settings"}
        env["PYTHONPATH"] = ROOT
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--no-input", "-v0"],
            env=env,
            cwd=ROOT,
            check=True,
            timeout=120,
        )
        yield server
    finally:
        server.destroy()


def _env(server: _postgres.PostgresServer) -> dict[str, str]:
    return {**server.env(), "DJIRA_TEST_PG_NAME": "djira_restart"}


async def round_of_requests(clients: list[SocketCommunicator]) -> list[int]:
    """One request per client, all at once; their statuses (a missing reply fails)."""
    replies = await asyncio.gather(*(c.request("db", namespace="state") for c in clients))
    return [reply["status"] for reply in replies]


@postgres_only
async def test_postgres_restart_costs_a_subscription_at_most_one_failure(private_postgres, servers):
    # A subscription with a pk looks its row up (get_object, in the observer's subscribing
    # rooms): after a restart it must recover like a request, not answer 500 for ever.
    server = servers(**_env(private_postgres), DJIRA_TEST_CONN_MAX_AGE="60")
    client = await SocketCommunicator(server.url, timeout=10).connect()

    async def subscribe() -> int:
        reply = await client.request(
            "observed", namespace="subscribe", action="SUBSCRIPTION", pk=999_999
        )
        return reply["status"]

    try:
        assert [await subscribe() for _ in range(6)] == [404] * 6  # no such book: a query ran
        await asyncio.to_thread(private_postgres.restart)
        # Every worker thread (4 by default) holds a connection the restart broke. The
        # first one to use it fails (no health checks: Django finds out by failing) and
        # says so (djira.sync); the others check theirs before their next unit and
        # reconnect instead of failing: one 500 for the process, then only 404s.
        statuses: list[int] = []
        while len(statuses) < 30 and statuses[-8:] != [404] * 8:
            statuses.append(await subscribe())
        assert set(statuses) <= {404, 500} and statuses.count(500) <= 1, statuses
        assert statuses[-8:] == [404] * 8, statuses
    finally:
        await client.disconnect()


@postgres_only
@pytest.mark.parametrize(
    ("max_age", "health_checks", "threads"),
    [("0", "0", "4"), ("60", "1", "4"), ("60", "0", "1")],
    ids=["max_age_0", "max_age_60_health_checks", "max_age_60_one_thread"],
)
async def test_postgres_restart_costs_at_most_one_reply_per_connection(
    private_postgres, servers, max_age, health_checks, threads
):
    server = servers(
        **_env(private_postgres),
        DJIRA_TEST_CONN_MAX_AGE=max_age,
        DJIRA_TEST_CONN_HEALTH_CHECKS=health_checks,
        DJIRA_TEST_WORKER_THREADS=threads,
    )
    clients = [await SocketCommunicator(server.url, timeout=10).connect() for _ in range(6)]
    try:
        for _ in range(3):  # every worker thread has used (and maybe kept) a connection
            assert await round_of_requests(clients) == [200] * len(clients)

        await asyncio.to_thread(private_postgres.restart)
        rounds = [await round_of_requests(clients) for _ in range(6)]
        per_client = list(zip(*rounds, strict=True))
        for statuses in per_client:
            failed = [status for status in statuses if status != 200]
            assert failed in ([], [500]), rounds  # a 500 envelope, never a hang
        assert rounds[-3:] == [[200] * len(clients)] * 3, rounds
        # At most one failure per worker thread, and only for units that were already
        # running together when the first failed: the others check their connection
        # before their next unit (djira.sync).
        assert sum(status != 200 for statuses in rounds for status in statuses) <= int(threads)
        if health_checks == "1":
            # Django's docs: a broken connection is re-established "without failing the
            # request".
            assert all(status == 200 for statuses in rounds for status in statuses), rounds

        # While the database is down every request gets its 500 at once; when it is back,
        # the next ones succeed.
        await asyncio.to_thread(private_postgres.stop)
        assert await round_of_requests(clients) == [500] * len(clients)
        await asyncio.to_thread(private_postgres.start)
        assert await round_of_requests(clients) == [200] * len(clients)
    finally:
        for client in clients:
            await client.disconnect()


@postgres_only
@pytest.mark.parametrize(("max_age", "same"), [("0", False), ("60", True)])
async def test_conn_max_age_decides_whether_a_connection_is_reused(servers, max_age, same):
    server = servers(DJIRA_TEST_CONN_MAX_AGE=max_age, DJIRA_TEST_WORKER_THREADS="1")
    async with SocketCommunicator(server.url) as client:
        first, second = await state(client), await state(client)
    assert first["thread"] == second["thread"]
    assert (first["backend"] == second["backend"]) is same


# -- worker threads --------------------------------------------------------------------------


async def test_requests_of_several_clients_run_at_once_each_with_its_connection(servers):
    """Each request waits at a barrier until all are there: one thread would never get
    past it (the first request holds it while the others queue behind). Three threads set
    (SQLite's default is two)."""
    server = servers(DJIRA_TEST_WORKER_THREADS="3")
    clients = [await SocketCommunicator(server.url).connect() for _ in range(3)]
    try:
        replies = await asyncio.gather(
            *(
                client.request(
                    "db", namespace="rendezvous", action="POST", data={"key": "k", "parties": 3}
                )
                for client in clients
            )
        )
    finally:
        for client in clients:
            await client.disconnect()
    assert [reply["status"] for reply in replies] == [200] * 3, replies
    assert len({reply["data"]["thread"] for reply in replies}) == 3
    if POSTGRES:
        assert len({reply["data"]["backend"] for reply in replies}) == 3


# -- transactions never leak into the next request --------------------------------------------


@pytest.fixture
async def one_thread(servers):
    """A client of a server whose sync work all runs on one thread: any leak would show."""
    server = servers(DJIRA_TEST_WORKER_THREADS="1", DJIRA_TEST_CONN_MAX_AGE="60")
    async with SocketCommunicator(server.url) as client:
        yield client


def assert_clean(before: dict, after: dict) -> None:
    assert after["thread"] == before["thread"]  # the same thread, or the test proves nothing
    assert after["autocommit"] is True
    assert after["in_atomic_block"] is False
    assert after["in_transaction"] is False


async def test_autocommit_left_off_is_rolled_back_before_the_next_request(one_thread):
    leaked = await one_thread.request(
        "db", namespace="leak_autocommit", action="POST", data={"title": "leaked"}
    )
    assert leaked["status"] == 200, leaked
    assert leaked["data"]["autocommit"] is False and leaked["data"]["in_transaction"] is True

    assert_clean(leaked["data"], await state(one_thread))
    # Rolled back, as Django's request handling does when it closes such a connection.
    assert not await Book.objects.filter(title="leaked").aexists()
    created = await one_thread.request("books", action="POST", data={"title": "kept"})
    assert created["status"] == 201
    assert await Book.objects.filter(title="kept").aexists()  # committed: autocommit is back


async def test_an_aborted_transaction_does_not_break_the_next_request(one_thread):
    before = await state(one_thread)
    failed = await one_thread.request(
        "db", namespace="leak_failed_transaction", action="POST", data={"title": "aborted"}
    )
    assert failed["status"] == 500
    assert "no_such_table" not in str(failed)  # no internals to the client

    assert_clean(before, await state(one_thread))
    assert not await Book.objects.filter(title="aborted").aexists()
    created = await one_thread.request("books", action="POST", data={"title": "kept"})
    assert created["status"] == 201


async def test_an_exception_inside_atomic_rolls_back_and_leaves_nothing_open(one_thread):
    before = await state(one_thread)
    failed = await one_thread.request(
        "db", namespace="fail_in_atomic", action="POST", data={"title": "atomic"}
    )
    assert failed["status"] == 500

    assert_clean(before, await state(one_thread))
    assert not await Book.objects.filter(title="atomic").aexists()


# -- a push the database cannot take ----------------------------------------------------------


@postgres_only
async def test_a_leave_the_database_cannot_take_is_told_as_a_reset(private_postgres, db_):
    # Presence's join and leave are pushed from the server's loop, with no transaction to
    # fail with: while PostgreSQL is down, the room's sockets here get a ``reset`` at once,
    # and once it is back a numbered ``reset`` goes before the next push (for every server's
    # sockets and for catch-ups). Never a silent gap.
    from tests.observers.conftest import on, start_observed_server, subscribe

    server = start_observed_server(**_env(private_postgres), DJIRA_TEST_DELIVERY_BACKEND="database")
    try:  # the server is stopped whatever happens: it would outlive the test run
        watcher = await SocketCommunicator(server.url, timeout=10).connect()
        try:
            created = await watcher.request("observed", action="POST", data={"title": "present"})
            pk = created["data"]["id"]
            await subscribe(watcher, hook="rooms", pk=pk)
            leaver = await SocketCommunicator(server.url, timeout=10).connect()
            await subscribe(leaver, hook="rooms", pk=pk)
            # Its own join, then the leaver's: numbered in the room's stream.
            joins = [
                await watcher.receive("rooms", match=on("subscribe", type="join")) for _ in "ab"
            ]
            assert joins[1]["offset"] == joins[0]["offset"] + 1

            await asyncio.to_thread(private_postgres.stop)
            await leaver.disconnect()  # its leave cannot be written
            reset = await watcher.receive("rooms", match=on("subscribe", type="reset"), timeout=20)
            assert reset.get("offset") is None  # told here at once, unnumbered

            await asyncio.to_thread(private_postgres.start)
            again = await SocketCommunicator(server.url, timeout=10).connect()
            try:
                # Requests first: the server's connections find out the restart (one may fail).
                statuses = [(await again.request("observed", pk=pk))["status"] for _ in range(3)]
                assert statuses[-1] == 200, statuses
                await subscribe(again, hook="rooms", pk=pk)
                numbered = await watcher.receive(
                    "rooms", match=on("subscribe", type="reset"), timeout=20
                )
                join = await watcher.receive(
                    "rooms", match=on("subscribe", type="join"), timeout=20
                )
            finally:
                await again.disconnect()
            assert numbered["offset"] is not None and join["offset"] == numbered["offset"] + 1
        finally:
            await watcher.disconnect()
    finally:
        await asyncio.to_thread(server.stop)
