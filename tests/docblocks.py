"""Code blocks of the Markdown docs, for tests that run the docs as they are written.

A block may be preceded by an HTML comment (invisible once rendered) saying what a test
does with it, e.g. ``<!-- quickstart: write notes/hooks.py -->``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$")
_MARKER = re.compile(r"^<!--\s*(?P<tag>[\w-]+):\s*(?P<args>.*?)\s*-->$")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    tag: str | None = None  # the marker's name, e.g. "quickstart"
    args: str = ""  # the marker's text after the colon, e.g. "write notes/hooks.py"

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced code block of ``path``, with the marker comment right above it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        start, indent, fence = index, len(match["indent"]), match["fence"]
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != fence:
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        index += 1  # the closing fence
        marker = _MARKER.match(lines[start - 1].strip()) if start else None
        found.append(
            Block(
                path=path,
                line=start + 1,
                lang=match["info"].strip().split(" ")[0],
                code="\n".join(body) + "\n",
                tag=marker["tag"] if marker else None,
                args=marker["args"] if marker else "",
            )
        )
    return found
