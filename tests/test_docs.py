"""The docs' code samples, taken from the pages.

Every Python block compiles; JavaScript, JSON and shell blocks pass their parsers. The
samples that make up a project run in a new ``django-admin startproject`` built from the
pages' own steps (tests/docproject.py), as a reader runs them: the quickstart end to end in
e2e/test_quickstart.py, hooks.md, authentication.md, permissions.md and testing.md in
tests/test_docs_<page>.py; deployment.md's nginx configuration in tests/test_nginx.py, its
systemd unit and container in tests/test_deployment.py.
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
