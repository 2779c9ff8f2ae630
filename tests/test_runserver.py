"""``manage.py runserver`` serves djira, in a fresh project set up as the quickstart says.

``django-admin startproject mysite`` in a temporary directory, then docs/quickstart.md's
marked blocks up to its serve step (commands run, files written and appended; djira itself
is this environment's, so the page's ``pip install`` is left out), then the page's serve
command with a port, in a subprocess with Django's autoreloader on. A real Socket.IO client
gets a reply and a push; a change to a file reloads the server, which serves the change.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import socketio
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.test import override_settings

from djira.asgi import FrameGuard
from djira.management.commands import runserver as runserver_command
from djira.management.devserver import (
    check_runserver,
    get_runserver_application,
    runserver_provider,
    serves_djira,
)
from djira.testing import free_port
from tests.docblocks import DOCS, blocks
from tests.docproject import BIN, follow_quickstart, project_env


class Runserver:
    """The serve command on a free port, its output in a file; stopped with its reloader."""

    def __init__(self, cwd: Path, command: list[str]) -> None:
        self.cwd = cwd
        self.port = free_port()
        self.command = [*command, str(self.port)]  # runserver's addrport argument
        self.log = cwd / f"runserver-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def start(self) -> Runserver:
        """Start the command; ``await serving()`` then waits until it answers."""
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env={**project_env(), "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the reloader's child too
            )
        return self

    async def serving(self, within: float = 30) -> None:
        """Return once the server answers HTTP (after a start or a reload)."""

        async def answers() -> bool:
            assert self.process is not None and self.process.poll() is None, self.output()
            try:
                await asyncio.to_thread(get, f"{self.url}/djira/health/live")
                return True
            except OSError:
                return False

        await eventually(answers, within, lambda: f"not serving:\n{self.output()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            self.process.wait(10)


async def eventually(predicate, within: float, message) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, message()
        await asyncio.sleep(0.1)


def get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """A project set up as the quickstart says, once for the module."""
    if shutil.which("django-admin", path=str(BIN)) is None:
        pytest.skip("django-admin is not in this environment")
    return follow_quickstart(tmp_path_factory.mktemp("quickstart"))


@pytest.fixture
async def runserver(quickstart, tmp_path):
    """``manage.py runserver PORT`` on a copy of the project (a test may edit its files)."""
    cwd, command, token = quickstart
    copy = tmp_path / cwd.name
    shutil.copytree(cwd, copy)
    server = Runserver(copy, command).start()
    await server.serving()
    server.token = token  # type: ignore[attr-defined]
    yield server
    server.stop()


async def connect(server: Runserver) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url, auth={"token": server.token}, wait_timeout=10)
    return client


def test_the_quickstart_serves_with_runserver():
    steps = [b for b in blocks(DOCS / "quickstart.md") if b.tag == "quickstart"]
    (serve,) = [b for b in steps if b.args == "serve"]
    assert serve.code.split() == ["python", "manage.py", "runserver"]


async def test_start_up_lines_are_djangos_then_djiras(runserver):
    output = runserver.output()
    assert "Performing system checks..." in output
    assert "System check identified no issues" in output
    assert f"Starting development server at http://127.0.0.1:{runserver.port}/" in output
    assert "Quit the server with CONTROL-C." in output
    assert "djira: Socket.IO at /socket.io/, the console at /admin/djira/" in output


async def test_answers_a_request_and_pushes_a_change(runserver):
    client = await connect(runserver)
    pushes: asyncio.Queue = asyncio.Queue()
    client.on("notes", pushes.put)
    try:
        subscribed = await client.call(
            "notes", {"namespace": "subscribe", "action": "SUBSCRIPTION"}
        )
        assert subscribed["status"] == 200 and subscribed["data"]["rooms"] == ["notes__1"]
        created = await client.call("notes", {"action": "POST", "data": {"text": "served"}})
        assert created["status"] == 201
        push = await asyncio.wait_for(pushes.get(), timeout=5)
        assert (push["type"], push["data"]["id"]) == ("create", created["data"]["id"])
    finally:
        await client.disconnect()


async def test_serves_static_files_the_console_and_health(runserver):
    status, body = await asyncio.to_thread(get, f"{runserver.url}/static/djira/js/client.js")
    assert status == 200 and "djira" in body
    status, _ = await asyncio.to_thread(get, f"{runserver.url}/static/admin/css/base.css")
    assert status == 200
    status, body = await asyncio.to_thread(get, f"{runserver.url}/admin/djira/")
    assert status == 200 and "login" in body  # redirected to the admin's login page
    status, body = await asyncio.to_thread(get, f"{runserver.url}/djira/health/ready")
    assert (status, body) == (200, '{"status": "ok", "checks": {"database": "ok"}}')
    # Request lines are logged as Django's server logs them.
    assert '"GET /static/admin/css/base.css HTTP/1.1" 200' in runserver.output()


ADDED_HOOK = """

from djira.hooks import ReadOnlyModelAPIHook


class AddedAPIHook(ReadOnlyModelAPIHook):
    event = "added"
    queryset = Note.objects.all()
    serializer_class = NoteSerializer
"""


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(text)


async def test_a_code_change_reloads_it(runserver):
    client = await connect(runserver)
    await client.disconnect()
    hooks = runserver.cwd / "notes" / "hooks.py"
    append(hooks, ADDED_HOOK)
    touched = [time.monotonic()]

    async def reloaded() -> bool:
        if runserver.output().count("Starting development server at") == 2:
            return True
        if time.monotonic() - touched[0] > 3:
            # Django's StatReloader compares each file with the time it first saw: a change
            # made before its first look (a slow start) is no change to it. Touch it again.
            os.utime(hooks)
            touched[0] = time.monotonic()
        return False

    await eventually(reloaded, 30, lambda: f"no reload:\n{runserver.output()}")
    assert "hooks.py changed, reloading." in runserver.output()
    await runserver.serving()
    client = await connect(runserver)
    try:
        reply = await client.call("added", {"action": "GET"})  # the new hook is served
        assert reply["status"] == 200 and reply["data"]["count"] == 0
    finally:
        await client.disconnect()


# What runserver says when a project cannot use it.

BEFORE_STATICFILES = [
    "djira.apps.DJiraConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "rest_framework",
]
AFTER_STATICFILES = [*BEFORE_STATICFILES[1:], "djira.apps.DJiraConfig"]


def test_djira_listed_after_staticfiles_is_a_warning_under_debug():
    with override_settings(DEBUG=True, INSTALLED_APPS=AFTER_STATICFILES):
        (warning,) = check_runserver()
    assert warning.id == "djira.W201"
    assert "'manage.py runserver' comes from django.contrib.staticfiles" in warning.msg
    assert "before 'django.contrib.staticfiles'" in warning.hint


def test_djira_listed_first_is_fine():
    with override_settings(DEBUG=True, INSTALLED_APPS=BEFORE_STATICFILES):
        assert runserver_provider() == "djira"
        assert check_runserver() == []


def test_production_settings_are_not_warned():
    with override_settings(DEBUG=False, INSTALLED_APPS=AFTER_STATICFILES):
        assert check_runserver() == []


def test_without_asgi_application_djiras_default_is_served_and_said(monkeypatch):
    default = FrameGuard(passed_on)
    monkeypatch.setattr("djira.asgi.get_asgi_application", lambda: default)
    with override_settings(ASGI_APPLICATION=None):
        application, note = get_runserver_application()
    assert application is default
    assert "ASGI_APPLICATION is not set" in note and "ASGI_APPLICATION = '" in note


def test_an_asgi_application_without_djira_is_said():
    with override_settings(ASGI_APPLICATION="tests.test_runserver.passed_on"):
        application, note = get_runserver_application()
    assert application is passed_on
    assert "is not built by djira.asgi.get_asgi_application()" in note


def test_djiras_application_wrapped_in_middleware_is_recognised():
    class Middleware:
        def __init__(self, app):
            self.app = app

    assert serves_djira(Middleware(FrameGuard(passed_on)))
    assert not serves_djira(Middleware(passed_on))


async def passed_on(scope, receive, send):
    """An ASGI application that is not djira's."""


@pytest.fixture
def djiras_application(monkeypatch):
    application = FrameGuard(passed_on)
    monkeypatch.setattr(runserver_command, "get_runserver_application", lambda: (application, None))
    return application


def test_nostatic_says_the_application_serves_them_under_debug(djiras_application):
    command = runserver_command.Command()
    with override_settings(DEBUG=True):
        handler = command.get_handler(use_static_handler=False, insecure_serving=False)
    assert handler is djiras_application
    assert any(note.startswith("--nostatic: ") for note in command.notes)


def test_insecure_serves_static_files_with_debug_off(djiras_application):
    command = runserver_command.Command()
    with override_settings(DEBUG=False):
        handler = command.get_handler(use_static_handler=True, insecure_serving=True)
    assert isinstance(handler, ASGIStaticFilesHandler)
    assert handler.application is djiras_application
