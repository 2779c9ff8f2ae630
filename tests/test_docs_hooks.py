"""docs/hooks.md as a reader runs it: its hooks added to the quickstart's project, served.

A new ``django-admin startproject`` built by the quickstart's steps and then hooks.md's
(tests/docproject.py): the page's hooks appended to ``notes/hooks.py``, its middleware
written to ``mysite/middleware.py``, its settings served as a variant. Nothing of this
repository's test settings reaches the project; the tests are its clients.
"""

from __future__ import annotations

import pytest

from djira.testing import SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import READER_PROJECT_MARKS, Project, admin_token, reader_project

PAGE = "hooks.md"

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("hooks"), PAGE)


@pytest.fixture(scope="module")
def accounts(project):
    made = project.create_users(alice={}, bob={})
    made["admin"] = {"token": admin_token(project)}
    return made


@pytest.fixture(scope="module")
def server(project, accounts):
    server = project.serve()
    yield server
    server.stop()


def note(project, owner: str, text: str, done: bool = False) -> int:
    """A note saved from ``manage.py shell``, as a reader would add one."""
    return project.shell_json(
        "from django.contrib.auth.models import User; from notes.models import Note; "
        f"print(Note.objects.create(owner=User.objects.get(username={owner!r}), "
        f"text={text!r}, done={done!r}).pk)"
    )


def test_every_python_sample_is_a_step_of_the_project():
    unmarked = [b.where for b in blocks(DOCS / PAGE) if b.lang == "python" and b.tag != "project"]
    assert unmarked == []


# -- mixins ---------------------------------------------------------------------------------


async def test_wall_lists_for_everyone_and_creates_for_users_only(server, accounts):
    async with SocketCommunicator(server.url) as anonymous:
        assert (await anonymous.request("wall"))["status"] == 200
        refused = await anonymous.request("wall", action="POST", data={"text": "hi"})
    async with SocketCommunicator(server.url, token=accounts["alice"]["token"]) as alice:
        created = await alice.request("wall", action="POST", data={"text": "On the wall"})
        edited = await alice.request(
            "wall", action="PATCH", pk=created["data"]["id"], data={"text": "x"}
        )
        page = await alice.request("wall")
    assert refused["status"] == 401
    assert created["status"] == 201
    assert edited["status"] == 405  # no UpdateModelMixin
    assert page["data"]["results"][0]["text"] == "On the wall"


# -- actions --------------------------------------------------------------------------------


async def test_users_refuse_anonymous_sockets(server, accounts):
    async with SocketCommunicator(server.url) as client:
        assert (await client.request("users"))["status"] == 401


async def test_users_are_read_only_without_private_fields(server, accounts):
    async with SocketCommunicator(server.url, token=accounts["alice"]["token"]) as client:
        page = await client.request("users")
        created = await client.request("users", action="POST", data={"username": "mallory"})
        deleted = await client.request("users", action="DELETE", pk=accounts["bob"]["pk"])
        me = await client.request("users", namespace="me")
    assert page["status"] == 200
    assert set(page["data"]["results"][0]) == {"id", "username", "first_name", "last_name"}
    assert (created["status"], deleted["status"]) == (405, 405)
    assert me["data"] == {"username": "alice"}


async def test_set_password_validates_and_changes_the_own_password(project, server, accounts):
    async with SocketCommunicator(server.url, token=accounts["bob"]["token"]) as client:
        short = await client.request(
            "users", namespace="set_password", action="POST", data={"password": "short"}
        )
        changed = await client.request(
            "users", namespace="set_password", action="POST", data={"password": "a-much-longer-one"}
        )
    assert short["status"] == 400 and "password" in short["data"]
    assert changed["status"] == 200
    checked = project.shell(
        "from django.contrib.auth.models import User; "
        "print(User.objects.get(username='bob').check_password('a-much-longer-one'))"
    )
    assert checked.strip().endswith("True")


async def test_stats_is_for_staff_only(server, accounts):
    async with SocketCommunicator(server.url, token=accounts["alice"]["token"]) as client:
        refused = await client.request("users", namespace="stats")
    async with SocketCommunicator(server.url, token=accounts["admin"]["token"]) as client:
        allowed = await client.request("users", namespace="stats")
    assert refused["status"] == 403
    assert allowed["status"] == 200 and allowed["data"]["count"] >= 3


# -- permissions ----------------------------------------------------------------------------


async def test_every_note_is_listed_but_only_its_owner_reads_it(project, server, accounts):
    bobs = note(project, "bob", "Bob's own")
    async with SocketCommunicator(server.url, token=accounts["alice"]["token"]) as client:
        listed = await client.request("every_note")
        theirs = await client.request("every_note", pk=bobs)
    async with SocketCommunicator(server.url, token=accounts["bob"]["token"]) as client:
        own = await client.request("every_note", pk=bobs)
    assert bobs in [row["id"] for row in listed["data"]["results"]]
    assert theirs["status"] == 403 and theirs["data"]["detail"] == "Not your note."
    assert own["status"] == 200


# -- filtering and pagination ---------------------------------------------------------------


async def test_note_search_filters_searches_orders_and_pages(project, server, accounts):
    for text, done in [("buy milk", False), ("buy bread", True), ("walk", False)]:
        note(project, "alice", text, done)
    note(project, "bob", "buy milk too", False)  # someone else's
    query = {"done": "false", "search": "buy", "ordering": "-id", "limit": 10}
    async with SocketCommunicator(server.url, token=accounts["alice"]["token"]) as client:
        found = await client.request("note_search", query=query)
        first = await client.request("note_search", query={"ordering": "-text", "limit": 1})
    assert found["status"] == 200, found
    assert [row["text"] for row in found["data"]["results"]] == ["buy milk"]
    assert first["data"]["count"] >= 3
    assert [row["text"] for row in first["data"]["results"]] == ["walk"]


# -- middleware -----------------------------------------------------------------------------


async def test_timing_middleware_wraps_replies(project, accounts):
    server = project.serve("timing")
    try:
        async with SocketCommunicator(server.url, token=accounts["alice"]["token"]) as client:
            reply = await client.request("users", namespace="me")
    finally:
        server.stop()
    assert reply["status"] == 200
    assert reply["data"]["result"] == {"username": "alice"}
    assert isinstance(reply["data"]["took"], float)
