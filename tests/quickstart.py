"""A fresh project set up as docs/quickstart.md says, for tests that serve it as a reader would.

``django-admin startproject mysite`` in a temporary directory, then the page's marked blocks
up to its serve step: commands run, files written and appended. djira itself is this
environment's (installed from this checkout), so the page's ``pip install`` lines are left
out; e2e/test_quickstart.py installs the built wheel into a fresh virtualenv instead.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.docblocks import DOCS, blocks

PASSWORD = "quickstart-pw-1"
BIN = Path(sys.executable).parent  # this environment's python, django-admin


def project_env() -> dict[str, str]:
    """This process's environment minus what would leak this repository's settings."""
    leaks = {"PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE"}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in leaks and not key.startswith(("DJIRA_", "PYTEST_", "COV_CORE_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    return env


def run(command: list[str], *, cwd: Path) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=project_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def follow_quickstart(root: Path) -> tuple[Path, list[str], str]:
    """The quickstart's steps up to serving: the project's directory, the serve command and
    the superuser's token."""
    cwd, token = root, ""
    for block in blocks(DOCS / "quickstart.md"):
        if block.tag != "quickstart":
            continue
        kind, _, target = block.args.partition(" ")
        if kind == "serve":
            (command,) = [shlex.split(line) for line in block.code.splitlines() if line.strip()]
            return cwd, command, token
        if kind == "append":
            with open(cwd / target, "a", encoding="utf-8") as file:
                file.write("\n" + block.code)
        elif kind == "write":
            (cwd / target).write_text(block.code, encoding="utf-8")
        elif kind == "run":
            for line in block.code.splitlines():
                command = shlex.split(line, comments=True)
                if not command:
                    continue
                if command[0] == "cd":
                    cwd = cwd / command[1]
                elif command[:2] != ["pip", "install"]:  # djira is installed here already
                    if "createsuperuser" in command:
                        command.append("--noinput")
                    output = run(command, cwd=cwd)
                    if "drf_create_token" in command:
                        token = re.search(r"Generated token (\w+)", output)[1]  # type: ignore[index]
    raise AssertionError("docs/quickstart.md has no serve step")
