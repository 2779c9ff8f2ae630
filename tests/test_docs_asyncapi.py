"""docs/asyncapi.md as a reader runs it, in a new project built from the docs' steps.

The quickstart's project, then the steps of every page before this one and this page's
own (tests/docproject.py): ``manage.py djira_asyncapi`` as the page runs it, hooks.md's
``set_password`` naming its serializer and authentication.md's JWT class describing its
scheme, each edited in place. The documents are read from that project's commands, from its
console under uvicorn, and validated with the page's script. Nothing of this repository's
test settings reaches the project.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
import urllib.request

import pytest

from djira.testing import SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import (
    READER_PROJECT_MARKS,
    ROOT,
    SETTINGS_PACKAGE,
    Project,
    admin_token,
    reader_project,
    session_cookie,
)

PAGE = "asyncapi.md"

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("asyncapi"), PAGE)


@pytest.fixture(scope="module")
def document(project) -> dict:
    """The page's first command, run again once the page's edits are made."""
    command = "python manage.py djira_asyncapi > asyncapi.json"
    assert [b for b in blocks(DOCS / PAGE) if b.tag == "project" and b.code.strip() == command]
    project.run(["python", "manage.py", "djira_asyncapi"], stdout=project.cwd / "asyncapi.json")
    return json.loads((project.cwd / "asyncapi.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def token(project) -> str:
    return admin_token(project)


@pytest.fixture(scope="module")
def server(project, token):
    server = project.serve()
    yield server
    server.stop()


def fetch(url: str, cookie: str) -> tuple[int, str, str]:
    """A page of the site as the browser holding ``cookie`` gets it: status, type, body."""
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_every_python_sample_is_a_step_of_the_project():
    loose = [b.where for b in blocks(DOCS / PAGE) if b.lang == "python" and b.tag != "project"]
    assert loose == []


def test_the_document_describes_the_projects_hooks(project, document):
    assert document["asyncapi"] == "3.0.0"
    server = document["servers"]["djira"]
    assert (server["host"], server["protocol"], server["pathname"]) == (
        "localhost:8000",
        "ws",
        "/socket.io/",
    )
    # Every page's hooks, the quickstart's first.
    assert {"notes", "wall", "users", "board", "readers"} <= set(document["channels"])
    notes = [name for name in document["operations"] if name.startswith("notes.")]
    assert set(notes) == {
        *(f"notes.{route}" for route in ("list", "create", "retrieve", "update")),
        *(f"notes.{route}" for route in ("partial_update", "destroy")),
        "notes.subscribe.subscription",
        "notes.subscribe.unsubscription",
        "notes.note_changes.push",
    }
    assert document["operations"]["notes.create"]["x-djira-permissions"] == ["IsAuthenticated"]
    note = document["components"]["schemas"]["Note"]
    assert set(note["properties"]) == {"id", "text", "done"}  # the hidden owner left out


def test_the_other_commands_of_the_page(project, document):
    for command in (
        "python manage.py djira_asyncapi --asgi mysite.asgi:application",
        "python manage.py djira_asyncapi --no-asgi",
    ):
        # Run before the page's edits: the same channels as the document made after them.
        described = json.loads(project.output_of(command))
        assert set(described["channels"]) == set(document["channels"]), command


def test_a_route_that_names_its_serializer_is_described_by_it(document):
    request = document["channels"]["users"]["messages"]["set_password.post.request"]
    assert request["payload"]["properties"]["data"] == {
        "$ref": "#/components/schemas/PasswordInput"
    }
    assert document["components"]["schemas"]["PasswordInput"] == {
        "type": "object",
        "properties": {"password": {"type": "string", "minLength": 12}},
        "required": ["password"],
    }
    # A route that names none: any JSON value.
    me = document["channels"]["users"]["messages"]["me.get.request"]
    assert me["payload"]["properties"]["data"] == {"description": "Any JSON value."}


async def test_the_edited_action_still_changes_the_password(project, server, token):
    async with SocketCommunicator(server.url, token=token) as client:
        short = await client.request(
            "users", namespace="set_password", action="POST", data={"password": "short"}
        )
        changed = await client.request(
            "users", namespace="set_password", action="POST", data={"password": "a-new-one-12"}
        )
    assert (short["status"], list(short["data"])) == (400, ["password"])
    assert changed["status"] == 200
    assert (
        project.shell_line(
            "from django.contrib.auth.models import User; "
            "print(User.objects.get(username='admin').check_password('a-new-one-12'))"
        )
        == "True"
    )


def test_a_class_of_your_own_says_its_scheme(project):
    described = json.loads(
        project.run(
            ["python", "manage.py", "djira_asyncapi"]
            + ["--settings", f"{SETTINGS_PACKAGE}.settings_jwt"],
        )
    )
    schemes = described["components"]["securitySchemes"]
    assert schemes["JWTSocketAuthentication"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert set(schemes) == {"JWTSocketAuthentication", "SessionAuthentication"}


def test_the_page_validates_it_with_the_official_parser(project):
    (sample,) = [b for b in blocks(DOCS / PAGE) if "validate-asyncapi" in b.code]
    line = sample.code.strip().replace("/path/to/djira", str(ROOT))
    described, _, validate = line.partition(" | ")
    produced = project.run(shlex.split(described))
    result = subprocess.run(
        shlex.split(validate),
        input=produced,
        cwd=project.cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["errors"] == []


async def test_the_console_downloads_the_served_document(project, server, document):
    cookie = session_cookie(project, "admin")
    status, kind, body = await asyncio.to_thread(
        fetch, f"{server.url}/admin/djira/hook/asyncapi.json", cookie
    )
    assert (status, kind.split(";")[0]) == (200, "application/json")
    assert json.loads(body)["channels"].keys() == document["channels"].keys()
