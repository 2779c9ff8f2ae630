"""docs/admin.md as a reader runs it, in a new project built from the docs' steps.

The quickstart's project, then the steps of every page before this one and this page's
own (tests/docproject.py): a live ``NoteAdmin`` and cards in ``notes/admin.py``,
``djira.admin.live`` added to the settings, and the page's settings blocks served in turn
(acting as a user, redaction, ``LIVE_ADMIN``). The console's pages are read over HTTP with
a signed-in user's cookie and the sockets are real clients. Nothing of this repository's
test settings reaches the project.
"""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request

import pytest

from djira.testing import ConnectionRefused, SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import READER_PROJECT_MARKS, Project, reader_project, served, session_cookie

PAGE = "admin.md"
# Python blocks that are not steps of the project, and why (each says so in its marker).
COMPILED_ONLY = {
    "INSTALLED_APPS = [": "the quickstart's step 2 added these settings",
    'cards.Count("Open tasks"': "the example project's cards, over its Task model",
    "def get_live_rooms": "the example project's TaskAdmin, in the shape of NoteAdmin",
}

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("admin"), PAGE)


@pytest.fixture(scope="module")
def users(project) -> dict[str, dict]:
    made = project.create_users(alice={}, sue={"is_staff": True})
    project.shell(
        "from django.contrib.auth.models import User; from notes.models import Note; "
        "alice = User.objects.get(username='alice'); "
        "Note.objects.create(owner=alice, text='Buy milk'); "
        "Note.objects.create(owner=alice, text='Done already', done=True)"
    )
    return made


default = served(None, "users")
act_as = served("act_as", "users")
redacting = served("redact_console", "users")
live = served("live", "users")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, cookie: str) -> tuple[int, str, str]:
    """``url`` as the browser holding ``cookie`` gets it: status, Location, body."""
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, "", response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode()


async def page(url: str, cookie: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(get, url, cookie)


def test_every_python_sample_is_a_step_or_says_why_not():
    python = [b for b in blocks(DOCS / PAGE) if b.lang == "python"]
    loose = [b.where for b in python if b.tag != "project"]
    compiled = [
        b.where
        for b in python
        if b.tag == "test"
        and b.args.startswith("compile ")
        and any(start in b.code for start in COMPILED_ONLY)
    ]
    assert loose == compiled and len(compiled) == len(COMPILED_ONLY)


# -- the console and its permissions ----------------------------------------------------------


async def test_the_console_asks_for_active_staff_with_a_permission(project, default, users):
    hooks = f"{default.url}/admin/djira/hook/"
    status, _, body = await page(hooks, session_cookie(project, "admin"))  # a superuser
    assert status == 200 and "notes" in body and "NoteAPIHook" in body
    status, location, _ = await page(hooks, session_cookie(project, "alice"))  # not staff
    assert status == 302 and "/admin/login/" in location
    status, _, _ = await page(hooks, session_cookie(project, "sue"))  # staff, no permission
    assert status == 403


# -- acting as a user -------------------------------------------------------------------------


async def test_a_superuser_acts_as_another_user(project, act_as, users):
    alice = {"actAs": users["alice"]["pk"]}
    cookie = session_cookie(project, "admin")
    async with SocketCommunicator(act_as.url, auth=alice, headers={"Cookie": cookie}) as client:
        me = await client.request("session", namespace="me")
        notes = await client.request("notes")
    assert me["data"]["username"] == "alice"
    # Alice's notes (the fixture's, and any another test of this module added, in any order).
    alices = project.shell_json(
        "import json; from notes.models import Note; print(json.dumps(sorted("
        "Note.objects.filter(owner__username='alice').values_list('text', flat=True))))"
    )
    assert {"Buy milk", "Done already"} <= set(alices)
    assert sorted(row["text"] for row in notes["data"]["results"]) == alices
    # Each request is written to the admin's log, after its reply.
    acted = f"Acted as alice (pk {users['alice']['pk']})"
    expected = {f"{acted}: session me GET -> 200", f"{acted}: notes GET -> 200"}
    for _ in range(20):
        logged = project.shell_json(
            "import json; from django.contrib.admin.models import LogEntry; print(json.dumps("
            "list(LogEntry.objects.filter(action_flag=4).values_list('change_message', "
            "flat=True))))"
        )
        if expected <= set(logged):
            break
        await asyncio.sleep(0.25)
    assert expected <= set(logged), logged


async def test_nobody_else_may_act_as_anyone(project, act_as, users):
    alice = {"actAs": users["alice"]["pk"]}
    staff = {"Cookie": session_cookie(project, "sue")}
    for credentials in (
        {"auth": {**alice, "token": users["sue"]["token"]}},  # a token
        {"auth": alice, "headers": staff},  # a staff session
        {"auth": alice},  # anonymous
    ):
        with pytest.raises(ConnectionRefused) as refused:
            await SocketCommunicator(act_as.url, **credentials).connect()
        assert refused.value.status == 403, credentials


# -- redaction --------------------------------------------------------------------------------


async def test_the_connection_page_masks_the_words_of_the_setting(project, redacting, users):
    headers = {"X-Ssn": "078-05-1120", "X-Note": "visible"}
    async with SocketCommunicator(redacting.url, token=users["alice"]["token"], headers=headers):
        pass
    async with SocketCommunicator(
        redacting.url, token=users["alice"]["token"], headers=headers
    ) as client:
        sid = client.sid
        _, _, body = await page(
            f"{redacting.url}/admin/djira/connection/{sid}/", session_cookie(project, "admin")
        )
    assert "078-05-1120" not in body
    assert re.search(r"X-Ssn</th><td[^>]*><code>\*{8}</code>", body)
    assert "visible" in body


# -- live admin pages -------------------------------------------------------------------------


async def test_the_live_changelist_is_told_of_a_save_in_a_shell(project, default, users):
    cookie = session_cookie(project, "admin")
    status, _, body = await page(f"{default.url}/admin/notes/note/", cookie)
    assert status == 200 and "djira/js/live-admin.js" in body and "Buy milk" in body
    changelist = {"namespace": "changelist", "action": "SUBSCRIPTION"}
    async with SocketCommunicator(default.url, headers={"Cookie": cookie}) as client:
        subscribed = await client.request(
            "djira-admin-live", **changelist, data={"model": "notes.note"}
        )
        assert subscribed["status"] == 200, subscribed
        pk = project.shell_json(
            "from django.contrib.auth.models import User; from notes.models import Note; "
            "print(Note.objects.create(owner=User.objects.get(username='alice'), "
            "text='From a shell').pk)"
        )
        push = await client.receive(
            "djira-admin-live", match=lambda push: push.get("type") == "create"
        )
    assert (push["type"], push["data"]) == ("create", {"pk": pk})


async def test_the_cards_on_the_admin_index(project, default, users):
    status, _, body = await page(f"{default.url}/admin/", session_cookie(project, "admin"))
    assert status == 200
    for title in ("Open notes", "Latest notes", "My notes"):
        assert title in body, title


async def test_live_admin_makes_every_admin_live(project, default, live, users):
    cookie = session_cookie(project, "admin")
    _, _, plain = await page(f"{default.url}/admin/auth/user/", cookie)
    _, _, made_live = await page(f"{live.url}/admin/auth/user/", cookie)
    assert "djira/js/live-admin.js" not in plain
    assert "djira/js/live-admin.js" in made_live
