"""docs/observers.md as a reader runs it, in a new project built from the docs' steps.

The quickstart's project, then the steps of every page before this one and this page's
own (tests/docproject.py): its hooks appended to ``notes/hooks.py``, its settings blocks
served in turn, its ``manage.py shell`` sample run in a shell while a client is subscribed.
Nothing of this repository's test settings reaches the project.
"""

from __future__ import annotations

import pytest

from djira.testing import SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import READER_PROJECT_MARKS, Project, reader_project

PAGE = "observers.md"

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("observers"), PAGE)


@pytest.fixture(scope="module")
def tokens(project) -> dict[str, str]:
    made = project.create_users(alice={}, bob={})
    return {name: user["token"] for name, user in made.items()}


@pytest.fixture(scope="module")
def server(project, tokens):
    server = project.serve()
    yield server
    server.stop()


def save_note(project: Project, text: str) -> int:
    """A note saved in ``manage.py shell``: a process that serves no sockets."""
    return project.shell_json(
        "from django.contrib.auth.models import User; from notes.models import Note; "
        f"print(Note.objects.create(owner=User.objects.get(username='bob'), text={text!r}).pk)"
    )


async def subscribe(client: SocketCommunicator, hook: str = "board", **kwargs) -> dict:
    reply = await client.request(hook, namespace="subscribe", action="SUBSCRIPTION", **kwargs)
    assert reply["status"] == 200, reply
    return reply


def test_every_python_sample_is_a_step_or_says_why_not():
    loose = [b.where for b in blocks(DOCS / PAGE) if b.lang == "python" and b.tag is None]
    assert loose == []


async def test_the_board_pushes_every_change_to_every_subscriber(server, tokens):
    async with SocketCommunicator(server.url, token=tokens["alice"]) as alice:
        assert (await subscribe(alice))["data"]["rooms"] == ["note"]
        async with SocketCommunicator(server.url, token=tokens["bob"]) as bob:
            created = await bob.request("board", action="POST", data={"text": "For all"})
        push = await alice.receive("board")
    assert created["status"] == 201
    assert (push["type"], push["room"], push["data"]["text"]) == ("create", "note", "For all")
    assert push["namespace"] == "subscribe"


async def test_the_shell_sample_announces_what_signals_never_see(project, server, tokens):
    (sample,) = [b for b in blocks(DOCS / PAGE) if b.tag == "project" and b.args == "shell"]
    async with SocketCommunicator(server.url, token=tokens["alice"]) as alice:
        await subscribe(alice)
        project.shell(sample.code)
        pushes = [await alice.receive("board") for _ in range(9)]
        # Once each: QuerySet.delete() sent its own signals, and nothing else was pushed.
        assert await alice.receive_nothing(timeout=1)
    seen = [(push["type"], push["data"]["text"]) for push in pushes]
    bulk = [f"Bulk {n}" for n in range(3)]
    assert seen[:6] == [(kind, text) for kind in ("create", "update") for text in bulk]
    # Django's collector deletes in its own order.
    assert sorted(seen[6:]) == [("delete", text) for text in bulk]
    assert [push["data"]["done"] for push in pushes[3:6]] == [True] * 3


@pytest.mark.parametrize("settings", ["delivery", "wal", "history"])
async def test_each_settings_block_serves_pushes_from_a_shell(project, tokens, settings):
    server = project.serve(settings)
    try:
        async with SocketCommunicator(server.url, token=tokens["alice"]) as alice:
            await subscribe(alice)
            save_note(project, f"Saved with {settings}")
            push = await alice.receive("board")
    finally:
        server.stop()
    assert (push["type"], push["data"]["text"]) == ("create", f"Saved with {settings}")


async def test_presence_says_who_reads_a_note(project, server, tokens):
    pk = save_note(project, "Read me")
    async with SocketCommunicator(server.url, token=tokens["alice"]) as alice:
        await subscribe(alice, "readers", pk=pk)
        joined = await alice.receive("readers", match=lambda push: push.get("type") == "join")
        present = await alice.request("readers", namespace="presence", pk=pk)
        count = await alice.request("readers", namespace="count", pk=pk)
    assert (joined["room"], joined["data"]["user"]["username"]) == (f"note__{pk}", "alice")
    (room,) = present["data"]
    assert room["room"] == f"note__{pk}" and room["connections"] == 1
    assert [user["username"] for user in room["users"]] == ["alice"]
    assert count["data"] == {"readers": 1}
