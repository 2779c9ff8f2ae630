"""docs/security.md as a reader runs it, in a new project built from the docs' steps.

The quickstart's project, then the steps of every page before this one and this page's
own (tests/docproject.py): its ``REDACT_KEYS`` sample served as
``mysite/settings_redact.py``. The page's promises are checked against that project under
uvicorn with real clients (origins, limits, redaction in the console), and its checks with
``manage.py check``. Nothing of this repository's test settings reaches the project.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request

import pytest

from djira.testing import ConnectionRefused, SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import (
    READER_PROJECT_MARKS,
    SETTINGS_PACKAGE,
    Project,
    admin_token,
    reader_project,
    served,
    session_cookie,
)

PAGE = "security.md"

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("security"), PAGE)


@pytest.fixture(scope="module")
def token(project) -> str:
    return admin_token(project)


default = served(None, "token")
redacting = served("redact", "token")


def fetch(url: str, cookie: str) -> str:
    """A page of the site as the browser holding ``cookie`` gets it."""
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def shell_with(project: Project, settings: str, code: str) -> str:
    """The last line ``code`` printed in ``manage.py shell`` under ``settings_<settings>``."""
    command = ["python", "manage.py", "shell", "--settings", f"{SETTINGS_PACKAGE}.{settings}"]
    return project.run([*command, "-c", code]).strip().splitlines()[-1]


def test_every_python_sample_is_a_step_of_the_project():
    loose = [b.where for b in blocks(DOCS / PAGE) if b.lang == "python" and b.tag != "project"]
    assert loose == []


# -- cross-site sockets -----------------------------------------------------------------------


async def test_same_origin_only_by_default(project, default, token):
    cookie = session_cookie(project, "admin")
    own = {"Cookie": cookie, "Origin": default.url}
    async with SocketCommunicator(default.url, headers=own) as page:
        assert (await page.request("notes"))["status"] == 200
    # A page of another site, with the user's cookie: refused at the handshake.
    evil = {"Cookie": cookie, "Origin": "https://evil.example"}
    with pytest.raises(ConnectionRefused):
        await SocketCommunicator(default.url, headers=evil).connect()
    # Not a browser: no Origin, a token.
    async with SocketCommunicator(default.url, token=token) as script:
        assert (await script.request("notes"))["status"] == 200


def test_any_origin_is_a_warning_none_checked_an_error(project):
    for name, value in [("star", '"*"'), ("unchecked", "[]")]:
        (project.cwd / SETTINGS_PACKAGE / f"settings_{name}.py").write_text(
            f"from {SETTINGS_PACKAGE}.settings import *  # noqa: F403\n\n"
            f'DJIRA_SETTINGS = {{"CORS_ALLOWED_ORIGINS": {value}}}\n',
            encoding="utf-8",
        )
    star = project.run(
        ["python", "manage.py", "check", "--tag", "djira", "--settings", "mysite.settings_star"]
    )
    assert "djira.W002" in star
    with pytest.raises(AssertionError, match=r"djira\.E007"):
        project.run(
            ["python", "manage.py", "check", "--tag", "djira"]
            + ["--settings", "mysite.settings_unchecked"]
        )


# -- limits -----------------------------------------------------------------------------------


async def test_a_connection_holds_at_most_100_subscriptions(default, token):
    async with SocketCommunicator(default.url, token=token) as client:
        # One subscription per distinct query: 100 of them, then a refusal.
        for n in range(100):
            reply = await client.request(
                "notes", namespace="subscribe", action="SUBSCRIPTION", query={"n": n}
            )
            assert reply["status"] == 200, reply
        refused = await client.request(
            "notes", namespace="subscribe", action="SUBSCRIPTION", query={"n": 100}
        )
        again = await client.request(
            "notes", namespace="subscribe", action="SUBSCRIPTION", query={"n": 0}
        )
    assert refused["status"] == 429
    assert refused["data"]["detail"] == (
        "Too many subscriptions on this connection (at most 100): "
        "unsubscribe from some before subscribing to more."
    )
    assert again["status"] == 200  # one it holds already


# -- redaction --------------------------------------------------------------------------------


def test_the_words_in_force(project):
    words = json.loads(
        shell_with(
            project,
            "settings_redact",
            "import json; from djira.admin.redaction import redact_keys; "
            "print(json.dumps(redact_keys().words))",
        )
    )
    assert {"ssn", "iban", "cardnumber", "password", "token", "apikey"} <= set(words)


def test_every_spelling_is_masked_values_are_not_inspected(project):
    sample = {
        "cardNumber": "4111",
        "CARD_NUMBER": "4111",
        "card-number": "4111",
        "customer_ssn": "078-05-1120",
        "X-Api-Key": "k",
        "note": "my password is hunter2",
    }
    masked = json.loads(
        shell_with(
            project,
            "settings_redact",
            "import json; from djira.admin.redaction import redact; "
            f"print(json.dumps(redact({sample!r})))",
        )
    )
    assert masked == {**dict.fromkeys(sample, "********"), "note": sample["note"]}


async def test_the_console_shows_handshake_headers_redacted(project, redacting, token):
    secret = {"X-Card-Number": "4111111111111111", "X-Iban": "DE89370400440532013000"}
    async with SocketCommunicator(redacting.url, token=token, headers=secret) as client:
        assert (await client.request("notes"))["status"] == 200
        sid = client.sid
        cookie = session_cookie(project, "admin")
        url = f"{redacting.url}/admin/djira/connection/{sid}/"
        html = await asyncio.to_thread(fetch, url, cookie)
    # Neither is a default word: the setting masks them.
    for header, value in secret.items():
        assert value not in html
        assert re.search(rf"{header}</th><td[^>]*><code>\*{{8}}</code>", html), header
