"""docs/settings.md as a reader runs it, in a new project built from the docs' steps.

The quickstart's project, then the steps of every page before this one and this page's
own (tests/docproject.py): its ``DJIRA_SETTINGS`` sample served as
``mysite/settings_tokens.py``. Its system checks run in that project, by ``manage.py check``
and by the ASGI server's start. Nothing of this repository's test settings reaches the
project.
"""

from __future__ import annotations

import pytest

from djira.testing import ConnectionRefused, SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import (
    READER_PROJECT_MARKS,
    SETTINGS_PACKAGE,
    Project,
    reader_project,
    session_cookie,
)

PAGE = "settings.md"

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("settings"), PAGE)


@pytest.fixture(scope="module")
def users(project) -> dict[str, dict]:
    return project.create_users(alice={})


@pytest.fixture(scope="module")
def tokens(project, users):
    server = project.serve("tokens")
    yield server
    server.stop()


def test_every_python_sample_is_a_step_of_the_project():
    loose = [b.where for b in blocks(DOCS / PAGE) if b.lang == "python" and b.tag != "project"]
    assert loose == []


async def test_the_sample_lets_token_holders_in_only(project, tokens, users):
    async with SocketCommunicator(tokens.url, token=users["alice"]["token"]) as client:
        assert (await client.request("notes"))["status"] == 200
    with pytest.raises(ConnectionRefused) as anonymous:
        await SocketCommunicator(tokens.url).connect()
    # The list replaces the default one (session, then token): a session is no credential.
    cookie = session_cookie(project, "alice")
    with pytest.raises(ConnectionRefused) as session:
        await SocketCommunicator(tokens.url, headers={"Cookie": cookie}).connect()
    assert anonymous.value.status == session.value.status == 401


async def test_the_sample_pages_by_25(project, tokens, users):
    project.shell(
        "from django.contrib.auth.models import User; from notes.models import Note; "
        "alice = User.objects.get(username='alice'); "
        "Note.objects.bulk_create(Note(owner=alice, text=f'Note {n}') for n in range(30))"
    )
    async with SocketCommunicator(tokens.url, token=users["alice"]["token"]) as client:
        first = await client.request("notes")
        second = await client.request("notes", query={"page": 2})
    assert first["data"]["count"] == 30
    assert (len(first["data"]["results"]), len(second["data"]["results"])) == (25, 5)


def test_values_are_reloaded_under_override_settings(project):
    printed = project.run(
        ["python", "manage.py", "shell", "--settings", f"{SETTINGS_PACKAGE}.settings_tokens"]
        + [
            "-c",
            "from django.test import override_settings\n"
            "from djira.settings import jira_settings\n"
            "print(jira_settings.PAGE_SIZE)\n"
            "with override_settings(DJIRA_SETTINGS={'PAGE_SIZE': 3}):\n"
            "    print(jira_settings.PAGE_SIZE)\n"
            "print(jira_settings.PAGE_SIZE)\n",
        ]
    )
    assert printed.split()[-3:] == ["25", "3", "25"]


# -- system checks ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ten(project) -> str:
    """The page's example of a wrong value, ``PAGE_SIZE: "ten"``, in a settings module."""
    (project.cwd / SETTINGS_PACKAGE / "settings_ten.py").write_text(
        f"from {SETTINGS_PACKAGE}.settings import *  # noqa: F403\n\n"
        'DJIRA_SETTINGS = {"PAGE_SIZE": "ten"}\n',
        encoding="utf-8",
    )
    return f"{SETTINGS_PACKAGE}.settings_ten"


def test_manage_py_check_runs_the_djira_checks(project, ten):
    assert "no issues" in project.run(["python", "manage.py", "check", "--tag", "djira"])
    with pytest.raises(AssertionError) as failed:
        project.run(["python", "manage.py", "check", "--tag", "djira", "--settings", ten])
    assert "djira.E006" in str(failed.value) and "PAGE_SIZE" in str(failed.value)


def test_an_asgi_server_refuses_to_start_on_an_error(project, ten):
    with pytest.raises(RuntimeError, match="exited"):
        project.serve("ten").stop()
    log = (project.root / "uvicorn-ten.log").read_text(encoding="utf-8")
    assert "ImproperlyConfigured" in log and "djira.E006" in log
