"""docs/observers.md's Python samples compile (the behaviour they show is tested alongside)."""

from __future__ import annotations

import textwrap

import pytest

from tests.docblocks import DOCS, blocks

PYTHON = [b for b in blocks(DOCS / "observers.md") if b.lang == "python"]


@pytest.mark.parametrize("block", PYTHON, ids=[b.where for b in PYTHON])
def test_python_sample_compiles(block):
    # Fragments (methods shown inside a class) are indented: compile them dedented.
    compile(textwrap.dedent(block.code), block.where, "exec")
