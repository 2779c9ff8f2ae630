"""docs/quickstart.md, followed to the letter on a fresh project and a fresh virtualenv.

Builds djira's wheel, installs it into a new virtual environment (nothing from this
checkout on ``sys.path``), runs ``django-admin startproject mysite``, then takes every
marked block of the quickstart in order: runs its commands, writes or appends its files,
serves with its ``manage.py runserver`` command, runs its Python client (installed in that
virtualenv as the page says) and its browser snippet in Chromium, and opens the console.
The code comes from the page, never retyped here.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from djira.testing import LiveServer
from e2e.conftest import ROOT, login
from tests.docblocks import DOCS, Block, blocks

PASSWORD = "quickstart-pw-1"
DOC_URL = "http://127.0.0.1:8000"  # the address the page uses (runserver's default)


def run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{shlex.join(command)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


class VenvServer(LiveServer):
    """The page's ``manage.py runserver`` command, from the virtualenv, on a free port.

    Stopping it stops the autoreloader's server process too: the reloader kills its child
    when it is terminated.
    """

    def __init__(self, command: list[str], *, env: dict[str, str], cwd: str) -> None:
        super().__init__(shlex.join(command), cwd=cwd, startup_timeout=60)
        self.env = env  # only the virtualenv's: LiveServer would add this process's own
        self.base_command = command

    def command(self) -> list[str]:
        return [*self.base_command, f"127.0.0.1:{self.port}"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """This checkout's wheel, or the one named by ``DJIRA_WHEEL`` (CI: the one to publish)."""
    if os.environ.get("DJIRA_WHEEL"):
        return Path(os.environ["DJIRA_WHEEL"]).resolve()
    out = tmp_path_factory.mktemp("dist")
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        cwd=ROOT,
        env=dict(os.environ),
    )
    (found,) = out.glob("djira_realtime-*.whl")
    return found


def venv_env(venv: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    # createsuperuser's prompts, answered as Django documents for scripts (--noinput).
    env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    return env


def shell_lines(block: Block) -> list[list[str]]:
    return [shlex.split(line) for line in block.code.splitlines() if line.strip()]


# Installs from PyPI into a new virtualenv: minutes on a cold pip cache.
@pytest.mark.timeout(600)
def test_quickstart_as_written(tmp_path, wheel, browser):
    steps = [block for block in blocks(DOCS / "quickstart.md") if block.tag == "quickstart"]
    assert [s.args.split()[0] for s in steps].count("serve") == 1, "one serve block expected"
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=dict(os.environ))
    env = venv_env(venv)
    cwd = tmp_path  # where the page's commands run; its `cd` lines move it
    server: VenvServer | None = None
    token = ""
    try:
        for block in steps:
            kind, _, target = block.args.partition(" ")
            if kind == "run":
                for command in shell_lines(block):
                    if command[0] == "cd":
                        cwd = cwd / command[1]
                        continue
                    if command[:2] == ["pip", "install"]:
                        # Not published yet: the page's distribution name, from the wheel.
                        command = [c.replace("djira-realtime", str(wheel)) for c in command]
                    if "createsuperuser" in command:
                        command.append("--noinput")
                    output = run(command, cwd=cwd, env=env, timeout=300)
                    if "drf_create_token" in command:
                        match = re.search(r"Generated token (\w+)", output)
                        assert match, output
                        token = match[1]
            elif kind == "append":
                with open(cwd / target, "a", encoding="utf-8") as file:
                    file.write("\n" + block.code)
            elif kind == "write":
                (cwd / target).write_text(block.code, encoding="utf-8")
            elif kind == "serve":
                check = run(["python", "manage.py", "check"], cwd=cwd, env=env)
                assert "djira." not in check, check  # no djira warning on the page's setup
                (command,) = shell_lines(block)
                server = VenvServer(command, env=env, cwd=str(cwd)).start()
                # The installed wheel is served, not this checkout.
                where = run(
                    ["python", "-c", "import djira; print(djira.__file__)"], cwd=cwd, env=env
                )
                assert str(venv) in where
            elif kind == "client":
                assert server is not None and token, f"{block.where}: serve and token first"
                check_client(block, server, token, cwd=cwd, env=env)
            elif kind == "browser":
                assert server is not None, f"{block.where}: serve first"
                check_browser(block, server, browser)
            else:
                raise AssertionError(f"{block.where}: unknown quickstart step {block.args!r}")
    finally:
        if server is not None:
            server.stop()
    assert server is not None, "the quickstart never served"


def check_client(
    block: Block, server: LiveServer, token: str, *, cwd: Path, env: dict[str, str]
) -> None:
    assert DOC_URL in block.code, f"{block.where}: the client should use {DOC_URL}"
    # The virtualenv's Python, with the client the page had installed there.
    result = subprocess.run(
        ["python", "-c", block.code.replace(DOC_URL, server.url)],
        cwd=cwd,
        env={**env, "DJIRA_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    subscribed, created, push, page = (ast.literal_eval(x) for x in result.stdout.splitlines())
    assert subscribed["status"] == 200 and subscribed["data"]["rooms"] == ["notes__1"]
    assert created["status"] == 201 and created["data"]["text"] == "Try djira"
    assert (push["type"], push["data"]["id"]) == ("create", created["data"]["id"])
    assert page["status"] == 200 and page["data"]["count"] == 1


def check_browser(block: Block, server: LiveServer, browser) -> None:
    page = login(browser, server, "admin", PASSWORD)
    try:
        expect(page.locator("#site-name")).to_be_visible()
        # Under DEBUG the admin's own CSS is served, as by Django's runserver.
        assert page.request.get("/static/admin/css/base.css").status == 200
        with page.expect_console_message(lambda msg: "From the browser" in msg.text) as message:
            page.evaluate(f"async () => {{\n{block.code}\n}}")
        assert message.value.text == "201 From the browser"
        # The console: the page's hook is listed, and the inspector is live.
        page.goto("/admin/djira/hook/")
        expect(page.locator('[data-hook="notes"]')).to_contain_text("notes.hooks.NoteAPIHook")
        page.goto("/admin/djira/inspector/")
        expect(page.locator("#djira-state")).to_have_text("connected")
    finally:
        page.context.close()
