"""A new Django project built by following the docs' own steps, as a reader builds it.

In an empty directory, every block a page marks, in order: ``<!-- quickstart: run -->`` (or
``project: run``) runs its commands (the quickstart's ``django-admin startproject`` and
``cd`` first), ``write PATH`` writes the block to PATH, ``append PATH`` appends it, and
``settings NAME`` writes ``mysite/settings_NAME.py``: the project's settings with the block
appended, one of the alternatives a page shows, served by ``Project.serve(NAME)``;
``replace PATH NAME`` puts the block in place of the function or class ``NAME`` (with its
decorators) that an earlier page wrote to PATH, as a reader edits it. A ``run`` line may end
with ``> FILE``: what the command prints on its standard output goes to FILE. Nothing
from this repository's test settings reaches the project: it sees only what the pages say
to add, and the packages of the virtual environment whose ``bin`` directory it is given
(the pages' ``pip install`` lines are checked against that environment rather than run,
unless ``install`` runs them).

``reader_project`` builds the project a reader of a page has: the quickstart, then every
page of the docs' table of contents up to that one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from djira.testing import LiveServer
from tests.docblocks import DOCS, Block, blocks

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # this environment's python, django-admin
SETTINGS_PACKAGE = "mysite"  # the quickstart's project
DISTRIBUTION = "djira-realtime"
PASSWORD = "a-long-password-1"  # createsuperuser --noinput reads it from the environment
# Marks of the modules that run a page in a reader's project: it has its own SQLite
# database whatever this suite's, so once (in the SQLite pass) is enough.
READER_PROJECT_MARKS = [
    pytest.mark.skipif(
        os.environ.get("DJIRA_TEST_DATABASE") == "postgres", reason="ran in the SQLite pass"
    ),
    pytest.mark.timeout(300),
]
# Marked blocks that drive a server or a client rather than build the project.
NOT_BUILDING = {"serve", "client", "browser", "shell"}


def project_env(bin_dir: Path = BIN) -> dict[str, str]:
    """This process's environment with ``bin_dir`` first on PATH, minus what would leak
    this repository's settings or test run into the project's commands."""
    leaks = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS"}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in leaks and not key.startswith(("COV_CORE_", "DJIRA_", "PYTEST_"))
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    return env


def extras_of(distribution: str) -> list[str]:
    """The extras ``distribution`` declares, spelled as it declares them."""
    if canonicalize_name(distribution) == DISTRIBUTION:
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        return list(pyproject["project"]["optional-dependencies"])
    return metadata.distribution(distribution).metadata.get_all("Provides-Extra") or []


def check_installed(command: list[str]) -> None:
    """A page's ``pip install`` line, checked against this environment instead of run.

    Every distribution it names is installed here, and every extra it asks for exists with
    exactly that spelling (older pips only warn about ``asyncio_client`` for
    ``asyncio-client``, then install nothing for it).
    """
    for argument in command[2:]:
        if argument.startswith("-"):
            continue
        requirement = Requirement(argument)
        if canonicalize_name(requirement.name) != DISTRIBUTION:
            metadata.distribution(requirement.name)  # raises PackageNotFoundError
        for extra in requirement.extras:
            assert extra in extras_of(requirement.name), (
                f"`{shlex.join(command)}`: {requirement.name} has no extra {extra!r}"
            )


@dataclass
class Project:
    """A reader's project: ``cwd`` follows the pages' ``cd`` lines; ``runs`` lists each
    command it ran (as the page writes it) with what it printed."""

    root: Path
    bin_dir: Path
    install: Callable[[list[str]], None] = check_installed
    cwd: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    runs: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cwd = self.root
        self.env = project_env(self.bin_dir)

    def run(self, command: list[str], *, timeout: float = 120, stdout: Path | None = None) -> str:
        """Run ``command`` in the project; what it printed (its standard output goes to
        ``stdout`` instead, if given, as the shell's ``> FILE``).

        A command still running after ``timeout`` seconds is stopped with SIGABRT, on which
        Python (``PYTHONFAULTHANDLER``) prints every thread's stack: the failure says where
        it hung, well before the test's own time limit.
        """
        env = {**self.env, "PYTHONFAULTHANDLER": "1"}
        with subprocess.Popen(
            command, cwd=self.cwd, env=env, text=True, stdout=PIPE, stderr=PIPE
        ) as process:
            try:
                out, err = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGABRT)
                out, err = process.communicate()
                raise AssertionError(
                    f"`{shlex.join(command)}` in {self.cwd} still ran after {timeout}s; "
                    f"it printed:\n{out}{err}"
                ) from None
        result = subprocess.CompletedProcess(command, process.returncode, out, err)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"`{shlex.join(command)}` in {self.cwd} failed:\n{output}"
        if stdout is not None:
            stdout.write_text(result.stdout, encoding="utf-8")
            return result.stderr
        return output

    def follow(self, page: Path, tag: str) -> list[Block]:
        """Take ``page``'s blocks marked ``<!-- TAG: ... -->`` in order; return the ones
        that do not build the project (``serve``, ``client``, ``browser``)."""
        others: list[Block] = []
        for block in blocks(page):
            if block.tag != tag:
                continue
            kind, _, target = block.args.partition(" ")
            if kind == "run":
                self.run_block(block)
            elif kind == "write":
                (self.cwd / target).parent.mkdir(parents=True, exist_ok=True)
                (self.cwd / target).write_text(block.code, encoding="utf-8")
            elif kind == "append":
                with open(self.cwd / target, "a", encoding="utf-8") as file:
                    file.write("\n" + block.code)
            elif kind == "replace":
                edited, name = target.split()
                source = (self.cwd / edited).read_text(encoding="utf-8")
                (self.cwd / edited).write_text(replace_definition(source, name, block.code))
            elif kind == "settings":
                base = f"from {SETTINGS_PACKAGE}.settings import *  # noqa: F403\n\n"
                path = self.cwd / SETTINGS_PACKAGE / f"settings_{target}.py"
                path.write_text(base + block.code, encoding="utf-8")
            elif kind in NOT_BUILDING:
                others.append(block)
            else:
                raise AssertionError(f"{block.where}: unknown step <!-- {tag}: {block.args} -->")
        return others

    def run_block(self, block: Block) -> None:
        for line in block.code.splitlines():
            command = shlex.split(line, comments=True)
            if not command:
                continue
            if command[0] == "cd":
                self.cwd = self.cwd / command[1]
            elif command[:2] == ["pip", "install"]:
                self.install(command)
            else:
                key, stdout = shlex.join(command), None
                if len(command) > 2 and command[-2] == ">":
                    key = f"{shlex.join(command[:-2])} > {shlex.quote(command[-1])}"
                    stdout, command = self.cwd / command[-1], command[:-2]
                if "createsuperuser" in command:
                    command.append("--noinput")
                self.runs.append((key, self.run(command, stdout=stdout)))

    def output_of(self, command: str) -> str:
        """What the last run of ``command`` (as a page writes it) printed."""
        return next(output for key, output in reversed(self.runs) if key == command)

    def shell(self, code: str) -> str:
        """Run ``code`` in ``manage.py shell`` (as a reader would try something out)."""
        return self.run(["python", "manage.py", "shell", "-c", code])

    def shell_line(self, code: str) -> str:
        """The last line ``code`` printed in ``manage.py shell`` (Django's shell may print
        what it imported first)."""
        return self.shell(code).strip().splitlines()[-1]

    def shell_json(self, code: str) -> Any:
        """``code`` ends by printing one JSON value: that value."""
        return json.loads(self.shell_line(code))

    def create_users(self, **users: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Users (``alice={"is_staff": True}``), each with a password and a DRF token, as
        ``createsuperuser`` and ``drf_create_token`` make them: ``{name: {"pk", "token"}}``."""
        return self.shell_json(
            "import json\n"
            "from django.contrib.auth import get_user_model\n"
            "from rest_framework.authtoken.models import Token\n"
            "made = {}\n"
            f"for name, fields in {users!r}.items():\n"
            "    password = name + '-pw-123'\n"
            "    user = get_user_model().objects.create_user(name, password=password, **fields)\n"
            "    made[name] = {'pk': user.pk, 'token': Token.objects.create(user=user).key}\n"
            "print(json.dumps(made))\n"
        )

    def serve(self, settings: str | None = None) -> LiveServer:
        """The project under uvicorn, as deployment.md serves it, with ``settings_NAME``
        (a page's ``settings NAME`` block) or the project's own settings."""
        module = f"{SETTINGS_PACKAGE}.settings" + (f"_{settings}" if settings else "")
        server = LiveServer(
            f"{SETTINGS_PACKAGE}.asgi:application",
            cwd=str(self.cwd),
            log_path=str(self.root / f"uvicorn-{settings or 'default'}.log"),
        )
        # The project's environment only: none of this test run's settings or variables.
        server.env = {**self.env, "DJANGO_SETTINGS_MODULE": module}
        return server.start()


def replace_definition(source: str, name: str, code: str) -> str:
    """``source`` with the definition of ``name`` (``def`` or ``class``, at any depth, with
    the decorators right above it) replaced by ``code``, indented as it was."""
    lines = source.splitlines(keepends=True)
    header = re.compile(rf"^(?P<indent> *)(async def|def|class) {re.escape(name)}\b")
    starts = [i for i, line in enumerate(lines) if header.match(line)]
    assert len(starts) == 1, f"{len(starts)} definitions of {name!r}, not one"
    start = end = starts[0]
    indent = header.match(lines[start])["indent"]  # type: ignore[index]
    while start > 0 and lines[start - 1].startswith(f"{indent}@"):
        start -= 1
    end += 1
    while end < len(lines) and (
        not lines[end].strip() or lines[end].startswith((f"{indent} ", f"{indent})"))
    ):  # its body, blank lines, and the ``):`` of a signature written over several lines
        end += 1
    while end > start and not lines[end - 1].strip():  # blank lines after it stay
        end -= 1
    body = textwrap.indent(textwrap.dedent(code).rstrip("\n") + "\n", indent)
    return "".join([*lines[:start], body, *lines[end:]])


def toc() -> list[str]:
    """The docs' pages in the order of docs/index.md's first table of contents."""
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    tree = re.search(r"```\{toctree\}\n(.*?)```", text, re.DOTALL)
    assert tree is not None, "docs/index.md has no toctree"
    lines = tree[1].splitlines()
    return [f"{line.strip()}.md" for line in lines if line.strip() and line[0] not in ":#"]


def reader_project(root: Path, page: str, bin_dir: Path = BIN) -> Project:
    """The project of a reader of ``page``: the quickstart, then the steps (``project``
    blocks) of every page before ``page`` in the table of contents, then its own."""
    project = Project(root, bin_dir)
    project.follow(DOCS / "quickstart.md", "quickstart")
    pages = toc()
    for name in pages[pages.index("quickstart.md") + 1 : pages.index(page) + 1]:
        project.follow(DOCS / name, "project")
    return project


def follow_quickstart(root: Path) -> tuple[Path, list[str], str]:
    """The quickstart's steps up to serving: the project's directory, the serve command and
    the superuser's token."""
    project = Project(root, BIN)
    others = project.follow(DOCS / "quickstart.md", "quickstart")
    (serve,) = [block for block in others if block.args == "serve"]
    (command,) = [shlex.split(line) for line in serve.code.splitlines() if line.strip()]
    created = next(out for key, out in project.runs if "drf_create_token" in key)
    token = re.search(r"Generated token (\w+)", created)
    assert token is not None, created
    return project.cwd, command, token[1]


def session_cookie(project: Project, username: str) -> str:
    """The session cookie of ``username`` signed in to the site (a ``Cookie`` header)."""
    return project.shell_line(
        "from django.conf import settings; from django.contrib.auth.models import User; "
        "from django.test import Client; web = Client(); "
        f"web.force_login(User.objects.get(username={username!r})); "
        "name = settings.SESSION_COOKIE_NAME; print(f'{name}={web.cookies[name].value}')"
    )


def served(settings: str | None, after: str | None = None) -> Any:
    """A module-wide fixture serving the page's ``settings`` block (None: the project's own),
    started once fixture ``after`` (e.g. the users the module creates) has run."""

    @pytest.fixture(scope="module")
    def server(project: Project, request: pytest.FixtureRequest) -> Any:
        if after is not None:
            request.getfixturevalue(after)
        server = project.serve(settings)
        yield server
        server.stop()

    return server


def admin_token(project: Project) -> str:
    """The quickstart superuser's DRF token, made by ``drf_create_token`` as the page says."""
    created = re.search(
        r"Generated token (\w+)", project.output_of("python manage.py drf_create_token admin")
    )
    assert created is not None
    return created[1]
