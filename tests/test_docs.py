"""The docs' code samples, taken from the pages.

Every Python block compiles; blocks marked ``<!-- test: define -->`` are executed
(tests.docsamples) and served by a real server (tests.docs_settings, tests.docsapp), where
the behaviour the page describes is checked; JavaScript, JSON and shell blocks pass their
parsers. The quickstart runs end to end in e2e/test_quickstart.py, testing.md in a new
project in tests/test_docs_testing.py, the nginx configuration of deployment.md in
tests/test_nginx.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from rest_framework.authtoken.models import Token

from djira.testing import ConnectionRefused, LiveServer, SocketCommunicator
from tests.conftest import ROOT
from tests.docblocks import DOCS, Block, blocks

README = Path(ROOT) / "README.md"
# Every page: samples compile (Python) or parse (JavaScript, shell) wherever they are.
PAGES = [README, *sorted(DOCS.glob("*.md"))]


def all_blocks() -> list[Block]:
    return [block for page in PAGES if page.exists() for block in blocks(page)]


def marked(block: Block) -> str:
    return block.args.split()[0] if block.tag == "test" and block.args else ""


def ids(items: list[Block]) -> list[str]:
    return [block.where for block in items]


PYTHON = [b for b in all_blocks() if b.lang == "python" and marked(b) != "skip"]
JS = [b for b in all_blocks() if b.lang in ("js", "javascript") and marked(b) != "skip"]
SHELL = [b for b in all_blocks() if b.lang in ("bash", "sh", "shell") and marked(b) != "skip"]
JSON = [b for b in all_blocks() if b.lang == "json" and marked(b) != "skip"]
SKIPPED = [b for b in all_blocks() if marked(b) == "skip"]


@pytest.mark.parametrize("block", PYTHON, ids=ids(PYTHON))
def test_python_sample_compiles(block):
    # Fragments (methods shown inside a class) are indented: compile them dedented.
    compile(textwrap.dedent(block.code), block.where, "exec")


@pytest.mark.parametrize("block", SKIPPED, ids=ids(SKIPPED))
def test_skipped_samples_say_why(block):
    assert len(block.args.split()) > 1, f"{block.where}: <!-- test: skip REASON -->"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node is not installed")
@pytest.mark.parametrize("block", JS, ids=ids(JS))
def test_javascript_sample_parses(block, tmp_path):
    # As a module: the samples use import and top-level await (a browser console, a module).
    path = tmp_path / "sample.mjs"
    path.write_text(block.code, encoding="utf-8")
    result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, f"{block.where}:\n{result.stderr}"


@pytest.mark.parametrize("block", JSON, ids=ids(JSON))
def test_json_sample_parses(block):
    json.loads(block.code)


@pytest.mark.parametrize("block", SHELL, ids=ids(SHELL))
def test_shell_sample_parses(block):
    result = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
    assert result.returncode == 0, f"{block.where}:\n{result.stderr}"


def test_defined_samples_are_executed():
    from tests import docsamples

    assert "CredentialsStillValid" in docsamples.DEFINED["authentication.md"]
    assert "IsOwnerOrReadOnly" in docsamples.DEFINED["permissions.md"]


def test_public_docs_never_say_seed():
    pages = [README, *DOCS.glob("*.md"), Path(ROOT) / "CHANGELOG.md"]
    offending = [p.name for p in pages if p.exists() and "seed" in p.read_text().lower()]
    assert offending == []


# -- README: hooks registered by hand in asgi.py ------------------------------------------


def test_readme_register_snippet_works_pasted_into_asgi_py(tmp_path):
    """The README's snippet, as asgi.py of a project with a blog app, serves both kinds."""
    (snippet,) = [b for b in blocks(README) if "consumer.register" in b.code]
    (tmp_path / "mysite").mkdir()
    (tmp_path / "mysite" / "__init__.py").write_text("")
    (tmp_path / "mysite" / "settings.py").write_text("from tests.settings import *\n")
    (tmp_path / "mysite" / "asgi.py").write_text(snippet.code)
    (tmp_path / "blog").mkdir()
    (tmp_path / "blog" / "__init__.py").write_text("")
    (tmp_path / "blog" / "hooks.py").write_text(
        textwrap.dedent(
            """
            from djira.decorators import action
            from djira.hooks import APIHook

            class UserAPIHook(APIHook):
                @action(actions=["GET"])
                def me(self, scope):
                    return {"username": scope.user.username}
            """
        )
    )
    # Without DJANGO_SETTINGS_MODULE: the snippet's setdefault must pick mysite.settings.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), ROOT])
    listed = subprocess.run(
        [sys.executable, "-c", "import mysite.asgi as a; print(sorted(a.consumer.hooks))"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    # Registered by hand, and discovered in an installed app (tests.testapp.observed).
    assert "'users'" in listed.stdout and "'observed'" in listed.stdout


# -- authentication.md and permissions.md, served -----------------------------------------


def docs_server(factory, **env: str) -> LiveServer:
    return factory(DJANGO_SETTINGS_MODULE="tests.docs_settings", **env)


@pytest.fixture(scope="module")
def docs(live_server_factory):
    return docs_server(live_server_factory)


async def whoami(client: SocketCommunicator) -> dict:
    reply = await client.request("docs_whoami", namespace="me")
    assert reply["status"] == 200, reply
    return reply["data"]


async def test_custom_authentication_identifies_the_device(docs, user):
    user.last_name = "k3y"
    await sync_to_async(user.save)()
    async with SocketCommunicator(docs.url, auth={"device": "alice:k3y"}) as client:
        assert (await whoami(client))["username"] == "alice"


async def test_custom_authentication_refuses_a_wrong_key(docs, user):
    with pytest.raises(ConnectionRefused) as refused:
        await SocketCommunicator(docs.url, auth={"device": "alice:wrong"}).connect()
    assert refused.value.status == 401


# The test settings' SECRET_KEY is short; PyJWT says so on every token it signs with it.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_jwt_authentication(docs, user):
    from rest_framework_simplejwt.tokens import AccessToken

    access = str(await sync_to_async(AccessToken.for_user)(user))
    async with SocketCommunicator(docs.url, auth={"jwt": access}) as client:
        assert (await whoami(client))["username"] == "alice"
    with pytest.raises(ConnectionRefused) as refused:
        await SocketCommunicator(docs.url, auth={"jwt": access[:-4] + "AAAA"}).connect()
    assert refused.value.status == 401


async def test_open_socket_keeps_its_user_after_the_token_is_deleted(docs, user, token):
    # What authentication.md says djira does by default.
    async with SocketCommunicator(docs.url, token=token) as client:
        await sync_to_async(Token.objects.filter(key=token).delete)()
        assert (await whoami(client))["username"] == "alice"
    with pytest.raises(ConnectionRefused) as refused:
        await SocketCommunicator(docs.url, token=token).connect()
    assert refused.value.status == 401


async def test_open_socket_keeps_its_user_after_logout(docs, user):
    from django.test import Client

    web = Client()
    await sync_to_async(web.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={web.cookies[settings.SESSION_COOKIE_NAME].value}"
    async with SocketCommunicator(docs.url, headers={"Cookie": cookie}) as client:
        await sync_to_async(web.logout)()
        assert (await whoami(client))["username"] == "alice"
    # The next connection with that cookie is anonymous: the session is gone.
    async with SocketCommunicator(docs.url, headers={"Cookie": cookie}) as client:
        assert (await whoami(client))["username"] is None


@pytest.fixture(scope="module")
def revoking(live_server_factory):
    return docs_server(
        live_server_factory,
        DJIRA_DOCS_PERMISSION_CLASSES=(
            "djira.permissions.IsAuthenticated,tests.docsamples.CredentialsStillValid"
        ),
    )


async def test_credentials_still_valid_refuses_a_deleted_token(revoking, user, token):
    async with SocketCommunicator(revoking.url, token=token) as client:
        assert (await whoami(client))["username"] == "alice"
        await sync_to_async(Token.objects.filter(key=token).delete)()
        reply = await client.request("docs_whoami", namespace="me")
    assert reply["status"] == 403
    assert reply["data"]["detail"] == "Your credentials were revoked: reconnect."


async def test_credentials_still_valid_refuses_after_logout(revoking, user):
    from django.test import Client

    web = Client()
    await sync_to_async(web.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={web.cookies[settings.SESSION_COOKIE_NAME].value}"
    async with SocketCommunicator(revoking.url, headers={"Cookie": cookie}) as client:
        assert (await whoami(client))["username"] == "alice"
        await sync_to_async(web.logout)()
        reply = await client.request("docs_whoami", namespace="me")
    assert reply["status"] == 403


@pytest.fixture(scope="module")
def known_apps(live_server_factory):
    return docs_server(
        live_server_factory, DJIRA_DOCS_PERMISSION_CLASSES="tests.docsamples.KnownApp"
    )


async def test_original_can_connect_shape_reads_the_auth_object(known_apps, db_):
    async with SocketCommunicator(known_apps.url, auth={"app": "web"}) as client:
        assert (await whoami(client))["username"] is None
    with pytest.raises(ConnectionRefused) as refused:
        await SocketCommunicator(known_apps.url, auth={"app": "fax"}).connect()
    assert refused.value.status == 401  # anonymous: 401, as for any refusal


@pytest.fixture(scope="module")
def staff_only(live_server_factory):
    return docs_server(
        live_server_factory,
        DJIRA_DOCS_PERMISSION_CLASSES="tests.docsamples.StaffOnlyConnections",
    )


async def test_scope_can_connect_shape_sees_the_user(staff_only, user, token, admin_user):
    with pytest.raises(ConnectionRefused) as refused:
        await SocketCommunicator(staff_only.url, token=token).connect()
    assert refused.value.status == 403
    staff_token = await sync_to_async(Token.objects.create)(user=admin_user)
    async with SocketCommunicator(staff_only.url, token=staff_token.key) as client:
        assert (await whoami(client))["username"] == "root"


async def test_staff_writes_only(docs, user, token):
    async with SocketCommunicator(docs.url, token=token) as client:
        assert (await client.request("docs_staff_books"))["status"] == 200
        reply = await client.request("docs_staff_books", action="POST", data={"title": "T"})
    assert reply["status"] == 403
    assert reply["data"]["detail"] == "Only staff may change this."


async def book_of(owner) -> int:
    from tests.testapp.models import Book

    book = await sync_to_async(Book.objects.create)(title="Owned", owner=owner)
    return book.pk


async def test_is_owner_object_shape(docs, user, token, other_user):
    mine, theirs = await book_of(user), await book_of(other_user)
    async with SocketCommunicator(docs.url, token=token) as client:
        assert (await client.request("docs_owned_books", pk=mine))["status"] == 200
        reply = await client.request("docs_owned_books", pk=theirs)
    assert reply["status"] == 403
    assert reply["data"]["detail"] == "This is not yours."


async def test_drf_object_shape(docs, user, token, other_user):
    mine, theirs = await book_of(user), await book_of(other_user)
    async with SocketCommunicator(docs.url, token=token) as client:
        assert (await client.request("docs_drf_books", pk=theirs))["status"] == 200  # read
        edit = {"title": "Mine now"}
        refused = await client.request("docs_drf_books", action="PATCH", pk=theirs, data=edit)
        allowed = await client.request("docs_drf_books", action="PATCH", pk=mine, data=edit)
    assert (refused["status"], allowed["status"]) == (403, 200)


# -- hooks.md -----------------------------------------------------------------------------


async def test_user_hook_refuses_anonymous_sockets(docs, db_):
    async with SocketCommunicator(docs.url) as client:
        assert (await client.request("users"))["status"] == 401


async def test_user_hook_is_read_only_and_hides_private_fields(docs, user, token):
    async with SocketCommunicator(docs.url, token=token) as client:
        page = await client.request("users")
        created = await client.request("users", action="POST", data={"username": "mallory"})
        deleted = await client.request("users", action="DELETE", pk=user.pk)
    assert page["status"] == 200
    assert set(page["data"]["results"][0]) == {"id", "username", "first_name", "last_name"}
    assert (created["status"], deleted["status"]) == (405, 405)


async def test_user_hook_set_password_validates_and_changes_own_password(docs, user, token):
    async with SocketCommunicator(docs.url, token=token) as client:
        short = await client.request(
            "users", namespace="set_password", action="POST", data={"password": "short"}
        )
        changed = await client.request(
            "users", namespace="set_password", action="POST", data={"password": "a-much-longer-one"}
        )
        stats = await client.request("users", namespace="stats")
    assert short["status"] == 400 and "password" in short["data"]
    assert changed["status"] == 200
    await sync_to_async(user.refresh_from_db)()
    assert user.check_password("a-much-longer-one")
    assert stats["status"] == 403  # IsAdminUser on that action only


async def test_timing_middleware_wraps_replies(live_server_factory, db_):
    timed = docs_server(
        live_server_factory, DJIRA_DOCS_MIDDLEWARE="tests.docsamples.TimingMiddleware"
    )
    async with SocketCommunicator(timed.url) as client:
        reply = await client.request("docs_whoami", namespace="me")
    assert reply["status"] == 200
    assert reply["data"]["result"]["username"] is None
    assert isinstance(reply["data"]["took"], float)
