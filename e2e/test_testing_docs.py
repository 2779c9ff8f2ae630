"""docs/testing.md's install line is all its tests need, in a new virtual environment.

tests/test_docs_testing.py follows testing.md with this checkout's .venv, which has every
test tool. Here a new virtualenv gets only what testing.md tells a reader to install
(``djira-realtime[testing]`` from this checkout's wheel, pytest-django, pytest-asyncio):
the quickstart's project is built in it (its own installs, for a server and a client, are
left out, so they cannot make up for a missing package) and testing.md's commands pass.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.conftest import ROOT
from tests.docblocks import DOCS, blocks
from tests.docproject import DISTRIBUTION, Project
from tests.test_docs_testing import assert_page_passed


def pip(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """This checkout's wheel, or the one named by ``DJIRA_WHEEL`` (CI: the one to publish)."""
    if os.environ.get("DJIRA_WHEEL"):
        return Path(os.environ["DJIRA_WHEEL"]).resolve()
    out = tmp_path_factory.mktemp("dist")
    pip("wheel", "--no-deps", "-q", "-w", str(out), str(ROOT), cwd=out)
    (found,) = out.glob("djira_realtime-*.whl")
    return found


# Installs from the package index into a new virtualenv: minutes on a cold pip cache.
@pytest.mark.timeout(900)
def test_testing_extra_is_enough(tmp_path, wheel):
    (install,) = [
        b for b in blocks(DOCS / "testing.md") if b.tag == "project" and "pip install" in b.code
    ]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    project = Project(tmp_path / "reader", venv / "bin", install=lambda command: None)
    project.root.mkdir()
    (line,) = install.code.strip().splitlines()
    # Not published yet: the page's distribution name, from the wheel (the page says so).
    project.run(["python", "-m", *shlex.split(line.replace(DISTRIBUTION, str(wheel)))])
    where = project.run(["python", "-c", "import djira; print(djira.__file__)"])
    assert str(venv) in where  # the wheel is tested, not this checkout

    project.follow(DOCS / "quickstart.md", "quickstart")
    project.follow(DOCS / "testing.md", "project")
    assert_page_passed(project)
