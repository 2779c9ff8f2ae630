"""A new Django project built by following the docs' own steps, as a reader builds it.

In an empty directory, every block a page marks, in order: ``<!-- quickstart: run -->`` (or
``project: run``) runs its commands (the quickstart's ``django-admin startproject`` and
``cd`` first), ``write PATH`` writes the block to PATH, ``append PATH`` appends it. Nothing
from this repository's test settings reaches the project: it sees only what the pages say
to add, and the packages of the virtual environment whose ``bin`` directory it is given
(the pages' ``pip install`` lines are checked against that environment rather than run,
unless ``install`` runs them).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.docblocks import Block, blocks

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "djira-realtime"
PASSWORD = "a-long-password-1"  # createsuperuser --noinput reads it from the environment
# Marked blocks that drive a server or a client rather than build the project.
NOT_BUILDING = {"serve", "client", "browser"}


def project_env(bin_dir: Path) -> dict[str, str]:
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

    def run(self, command: list[str], *, timeout: float = 300) -> str:
        result = subprocess.run(
            command, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"`{shlex.join(command)}` in {self.cwd} failed:\n{output}"
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
                key = shlex.join(command)
                if "createsuperuser" in command:
                    command.append("--noinput")
                self.runs.append((key, self.run(command)))
