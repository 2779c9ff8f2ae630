"""docs/permissions.md as a reader runs it, in a new project built from the docs' steps.

The quickstart's project, then the steps of hooks.md, authentication.md and this page
(tests/docproject.py): permission classes appended to ``mysite/permissions.py``, hooks to
``notes/hooks.py``, each settings block served in turn (``mysite/settings_<name>.py``).
Nothing of this repository's test settings reaches the project.
"""

from __future__ import annotations

import pytest

from djira.testing import ConnectionRefused, SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import READER_PROJECT_MARKS, Project, reader_project, served

PAGE = "permissions.md"

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("permissions"), PAGE)


@pytest.fixture(scope="module")
def tokens(project) -> dict[str, str]:
    made = project.create_users(alice={}, bob={}, sue={"is_staff": True})
    return {name: user["token"] for name, user in made.items()}


default = served(None, "tokens")
known_app = served("known_app", "tokens")
staff_only = served("staff_only", "tokens")
authenticated = served("authenticated", "tokens")


def note(project: Project, owner: str, text: str) -> int:
    return project.shell_json(
        "from django.contrib.auth.models import User; from notes.models import Note; "
        f"print(Note.objects.create(owner=User.objects.get(username={owner!r}), text={text!r}).pk)"
    )


async def refused_status(url: str, **credentials) -> int:
    with pytest.raises(ConnectionRefused) as refused:
        await SocketCommunicator(url, **credentials).connect()
    return refused.value.status


def test_every_python_sample_is_a_step_of_the_project():
    loose = [b.where for b in blocks(DOCS / PAGE) if b.lang == "python" and b.tag != "project"]
    assert loose == []


# -- who may connect --------------------------------------------------------------------------


async def test_known_app_needs_a_user_and_a_known_app(known_app, tokens):
    auth = {"token": tokens["alice"], "app": "web"}
    async with SocketCommunicator(known_app.url, auth=auth) as client:
        assert (await client.request("session", namespace="me"))["data"]["username"] == "alice"
    assert await refused_status(known_app.url, auth={**auth, "app": "fax"}) == 403
    assert await refused_status(known_app.url, auth={"app": "web"}) == 401  # anonymous


async def test_staff_only_connections(staff_only, tokens):
    assert await refused_status(staff_only.url, token=tokens["alice"]) == 403
    async with SocketCommunicator(staff_only.url, token=tokens["sue"]) as client:
        assert (await client.request("session", namespace="me"))["data"]["username"] == "sue"


async def test_is_authenticated_by_default_refuses_anonymous_sockets(authenticated, tokens):
    assert await refused_status(authenticated.url) == 401
    async with SocketCommunicator(authenticated.url, token=tokens["bob"]) as client:
        assert (await client.request("session", namespace="me"))["data"]["username"] == "bob"


# -- who may call -----------------------------------------------------------------------------


async def test_staff_writes_only(default, tokens):
    async with SocketCommunicator(default.url, token=tokens["alice"]) as client:
        read = await client.request("notices")
        write = await client.request("notices", action="POST", data={"text": "Hello all"})
    async with SocketCommunicator(default.url, token=tokens["sue"]) as client:
        staff = await client.request("notices", action="POST", data={"text": "Hello all"})
    assert read["status"] == 200
    assert write["status"] == 403
    assert write["data"]["detail"] == "Only staff may change this."
    assert staff["status"] == 201


# -- which objects ----------------------------------------------------------------------------


async def test_private_notes_are_the_users_own(project, default, tokens):
    bobs = note(project, "bob", "Bob's secret")
    async with SocketCommunicator(default.url, token=tokens["alice"]) as client:
        created = await client.request("private_notes", action="POST", data={"text": "Mine"})
        listed = await client.request("private_notes")
        theirs = await client.request("private_notes", pk=bobs)
    assert created["status"] == 201
    # Alice's notes only (other tests of this module, in any order, add some of hers).
    alices = project.shell_json(
        "import json; from notes.models import Note; print(json.dumps(sorted("
        "Note.objects.filter(owner__username='alice').values_list('text', flat=True))))"
    )
    assert "Mine" in alices and "Bob's secret" not in alices
    assert sorted(row["text"] for row in listed["data"]["results"]) == alices
    assert theirs["status"] == 404  # not a 403 that would say the row exists


async def test_shared_notes_are_read_by_all_changed_by_their_owner(project, default, tokens):
    bobs, alices = note(project, "bob", "Bob's"), note(project, "alice", "Alice's")
    edit = {"text": "Edited"}
    async with SocketCommunicator(default.url, token=tokens["alice"]) as client:
        read = await client.request("shared_notes", pk=bobs)
        refused = await client.request("shared_notes", action="PATCH", pk=bobs, data=edit)
        allowed = await client.request("shared_notes", action="PATCH", pk=alices, data=edit)
    assert read["status"] == 200 and read["data"]["text"] == "Bob's"
    assert (refused["status"], allowed["status"]) == (403, 200)
