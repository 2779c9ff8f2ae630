"""Sphinx configuration: the Markdown guides (MyST) and an API reference from docstrings.

Build with warnings as errors (``make docs``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# autodoc imports djira's modules, and models need configured settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import djira  # noqa: E402

project = "djira"
author = "djira contributors"
copyright = "djira contributors"
release = djira.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_heading_anchors = 4

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Annotations stay as written: resolving every Any and forward reference adds nothing here.
autodoc_typehints = "description"
autodoc_typehints_format = "short"

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = False

html_theme = "alabaster"
html_title = f"djira {release}"


def literal_examples(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]):
    """Make the docstrings' indented examples literal blocks.

    djira's docstrings show code as an indented block after a blank line, without reST's
    ``::`` (STYLE.md, as python-socketio's); reST would read it as a block quote and trip
    on ``**kwargs``. A ``::`` paragraph before such a block makes it literal.
    """
    index, previous = 0, ""
    while index < len(lines):
        line = lines[index]
        indent = len(line) - len(line.lstrip())
        if (
            line.strip()
            and index > 0
            and not lines[index - 1].strip()
            and indent > len(previous) - len(previous.lstrip())
            and not previous.rstrip().endswith("::")
        ):
            lines[index:index] = ["::", ""]
            index += 2
            while index < len(lines) and (
                not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) >= indent
            ):
                index += 1
            previous = lines[index - 1] if index else ""
            continue
        if line.strip():
            previous = line
        index += 1


def setup(app: Any) -> None:
    from pygments.lexers import JavascriptLexer

    app.add_lexer("jsonc", JavascriptLexer)  # JSON with comments (tsconfig.json)
    app.connect("autodoc-process-docstring", literal_examples)
