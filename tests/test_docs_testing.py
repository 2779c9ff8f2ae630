"""docs/testing.md, followed to the letter in a new project, as a reader runs it.

``django-admin startproject`` in a temporary directory, the quickstart's steps (the page
before it), then testing.md's: its settings module, ``pytest.ini``, ``conftest.py`` and
test files, each from the page's own code blocks, and its commands (``pytest``,
``manage.py test``) in subprocesses with this virtual environment's Python. Nothing of this
repository's test settings reaches the project (tests/docproject.py).
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import sys
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

import pytest

from tests.docblocks import DOCS, blocks
from tests.docproject import Project, check_installed

TESTING = DOCS / "testing.md"
STEPS = [block for block in blocks(TESTING) if block.tag == "project"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    project = Project(tmp_path_factory.mktemp("reader"), Path(sys.executable).parent)
    project.follow(DOCS / "quickstart.md", "quickstart")
    project.follow(TESTING, "project")
    return project


def pytest_tests(code: str) -> int:
    """pytest's tests in a module: its top-level ``test_*`` functions."""
    return sum(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
        for node in ast.parse(code).body
    )


def django_tests(code: str) -> int:
    """Django's tests in a module: ``test*`` methods of its classes."""
    return sum(
        isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test")
        for node in ast.parse(code).body
        if isinstance(node, ast.ClassDef)
        for item in node.body
    )


def expected_runs() -> list[tuple[str, int]]:
    """Each command the page runs, with how many tests the files written so far hold."""
    written: dict[str, str] = {}
    runs: list[tuple[str, int]] = []
    for block in STEPS:
        kind, _, target = block.args.partition(" ")
        if kind == "write":
            written[target] = block.code
        elif kind == "append":
            written[target] = written.get(target, "") + block.code
        elif kind == "run" and not block.code.startswith("pip "):
            # Test modules as each runner finds them: pytest's test_*.py, Django's test*.py.
            names = {path: PurePosixPath(path).name for path in written}
            if block.code.split()[0] == "pytest":
                count = sum(
                    pytest_tests(code)
                    for path, code in written.items()
                    if fnmatch(names[path], "test_*.py")
                )
            else:
                count = sum(
                    django_tests(code)
                    for path, code in written.items()
                    if fnmatch(names[path], "test*.py")
                )
            runs.append((block.code.strip(), count))
    return runs


def test_page_runs_pytest_and_manage_py_test():
    commands = [command for command, _ in expected_runs()]
    assert "pytest" in commands
    assert any(command.startswith("python manage.py test") for command in commands)


def test_install_line_names_the_testing_extra():
    (install,) = [b for b in STEPS if b.args == "run" and b.code.startswith("pip install")]
    assert '"djira-realtime[testing]"' in install.code
    assert "pytest-django" in install.code and "pytest-asyncio" in install.code


def test_pytest_ini_sets_asyncio_mode_auto():
    (ini,) = [b for b in STEPS if b.args == "write pytest.ini"]
    assert re.search(r"^asyncio_mode = auto$", ini.code, re.MULTILINE)


def assert_page_passed(project: Project) -> None:
    """The page's commands ran last, in its order, and each passed every test it found."""
    expected = expected_runs()
    ran = project.runs[-len(expected) :]
    assert [command for command, _ in ran] == [command for command, _ in expected]
    for (command, output), (_, count) in zip(ran, expected, strict=True):
        assert count > 0, command
        if command == "pytest":
            summary = output.strip().splitlines()[-1]
            assert re.fullmatch(rf"=+ {count} passed in [\d.]+s( \([\d:]+\))? =+", summary), output
            assert "warnings summary" not in output, output
        else:
            assert re.search(rf"^Ran {count} tests? in ", output, re.MULTILINE), output
            assert re.search(r"^OK$", output, re.MULTILINE), output


# The reader's project has its own SQLite database whatever this suite's: once is enough.
@pytest.mark.skipif(
    os.environ.get("DJIRA_TEST_DATABASE") == "postgres", reason="ran in the SQLite pass"
)
@pytest.mark.timeout(900)
def test_every_command_passes_every_test_it_finds(project):
    assert_page_passed(project)


@pytest.mark.parametrize(
    "line",
    [
        'pip install "djira-realtime[testing]"',
        'pip install "python-socketio[asyncio-client]"',
    ],
)
def test_install_lines_are_checked(line):
    check_installed(shlex.split(line))


@pytest.mark.parametrize(
    "line",
    [
        'pip install "djira-realtime[tests]"',
        'pip install "python-socketio[asyncio_client]"',  # pip 23.2 installs no client
    ],
)
def test_install_lines_with_a_wrong_extra_fail(line):
    with pytest.raises(AssertionError, match="has no extra"):
        check_installed(shlex.split(line))


def test_blocks_are_marked_as_steps():
    # Every Python, ini and shell block of the page is a step of the project.
    unmarked = [
        b.where
        for b in blocks(TESTING)
        if b.lang in ("python", "ini", "bash") and b.tag != "project"
    ]
    assert unmarked == []
