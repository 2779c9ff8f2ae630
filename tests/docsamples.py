"""The classes the docs define, executed from the docs themselves.

Every block marked ``<!-- test: define -->`` in docs/*.md runs here, page by page, into
this module's namespace, so ``tests.docsamples.CredentialsStillValid`` is the class
docs/authentication.md shows, and a server can list it in its settings. Blocks must be
self-contained (their own imports), as a reader pastes them.
"""

from __future__ import annotations

from tests.docblocks import DOCS, blocks

DEFINED: dict[str, list[str]] = {}  # page -> names it defines

_before: set[str] = set()
for _page in sorted(DOCS.glob("*.md")):
    for _block in blocks(_page):
        if _block.tag == "test" and _block.args.split()[0] == "define":
            _before = set(globals())
            exec(compile(_block.code, _block.where, "exec"), globals())  # noqa: S102
            DEFINED.setdefault(_page.name, []).extend(sorted(set(globals()) - _before))
