"""docs/lifecycle.md as a reader runs it, in a new project built from the docs' steps.

The quickstart's project, then the steps of hooks.md and this page (tests/docproject.py):
the page's listener written to ``notes/listeners.py`` and registered in ``notes/apps.py``'s
``ready()``. The project is served under uvicorn and its clients go through the request
path the page describes. Nothing of this repository's test settings reaches the project.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3

import pytest

from djira.testing import SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import READER_PROJECT_MARKS, Project, admin_token, reader_project, served

PAGE = "lifecycle.md"

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("lifecycle"), PAGE)


@pytest.fixture(scope="module")
def token(project) -> str:
    return admin_token(project)


server = served(None, "token")


def test_every_python_sample_is_a_step_of_the_project():
    loose = [b.where for b in blocks(DOCS / PAGE) if b.lang == "python" and b.tag != "project"]
    assert loose == []


async def test_the_listener_logs_the_slow_requests_only(project, token):
    """A request held up by a database lock (another process writing) is logged, a quick one
    is not: the listener registered in ``ready()`` is the served process's."""
    server = project.serve()
    try:
        async with SocketCommunicator(server.url, token=token) as client:
            assert (await client.request("notes"))["status"] == 200  # quick
            # Another process holds SQLite's write lock for a second: reads wait for it.
            database = sqlite3.connect(project.cwd / "db.sqlite3", isolation_level=None)
            try:
                database.execute("BEGIN EXCLUSIVE")
                held = asyncio.ensure_future(client.request("notes"))
                await asyncio.sleep(1)
                assert not held.done()
            finally:
                database.execute("COMMIT")
                database.close()
            assert (await held)["status"] == 200
    finally:
        server.stop()  # uvicorn exits cleanly: what the listener printed is in the log
    logged = re.findall(r"^slow: (\S+) (\S+) (\d+) (\d+\.\d{3})s$", server.read_log(), re.M)
    assert len(logged) == 1, server.read_log()
    ((event, namespace, status, duration),) = logged
    assert (event, namespace, status) == ("notes", "None", "200")
    assert 0.5 < float(duration) < 5


# -- the request path -------------------------------------------------------------------------


async def test_bad_input_unknown_routes_and_wrong_verbs(server, token):
    async with SocketCommunicator(server.url, token=token) as client:
        bad = await client.send("notes", {"action": "GET", "pk": {"not": "a key"}})
        unknown_hook = await client.request("nothing-here")
        unknown_route = await client.request("notes", namespace="nothing-here")
        wrong_verb = await client.request("notes", namespace="subscribe", action="POST")
    assert bad["status"] == 400 and "'pk'" in bad["data"]["detail"], bad  # the field's name
    assert (unknown_hook["status"], unknown_route["status"]) == (404, 404)
    assert wrong_verb["status"] == 405


@pytest.mark.parametrize("name", ["connect", "disconnect", "connect_error"])
async def test_reserved_event_names_get_a_400(server, token, name):
    async with SocketCommunicator(server.url, token=token) as client:
        reply = await client.send(name, {"action": "GET"})
        assert (await client.request("notes"))["status"] == 200  # still connected
    assert reply["status"] == 400


async def test_a_reply_without_acknowledgement_goes_to_the_requesting_socket_only(server, token):
    async with (
        SocketCommunicator(server.url, token=token) as asker,
        SocketCommunicator(server.url, token=token) as other,
    ):
        reply = await asker.request("notes", ack=False, request_id="no-ack")
        assert (reply["status"], reply["event"], reply["requestId"]) == (200, "notes", "no-ack")
        assert await other.receive_nothing(timeout=0.5)
