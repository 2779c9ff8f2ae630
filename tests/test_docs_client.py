"""docs/client.md's generated types as a reader gets them, in a new project built from the
docs' steps (tests/docproject.py): ``manage.py djira_typescript -o src/api.ts`` run as the
page writes it, in the quickstart's project (which has no ``src/`` yet), and the page's
sample over that module compiled with ``tsc --strict``.
"""

from __future__ import annotations

import shutil

import pytest

from tests.docproject import READER_PROJECT_MARKS, Project, reader_project
from tests.tsc import compiles, tsc

PAGE = "client.md"

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("client"), PAGE)


def test_the_command_writes_the_module_where_the_page_says(project):
    run = project.output_of("python manage.py djira_typescript -o src/api.ts")
    assert "Traceback" not in run
    module = (project.cwd / "src" / "api.ts").read_text(encoding="utf-8")
    assert "export interface Note " in module or "export type Note " in module, module[:2000]


def test_the_page_s_sample_compiles_against_the_generated_module(project):
    compiles(project.cwd)  # src/: api.ts and the page's notes.ts


def test_a_field_the_serializer_hides_does_not_compile(project, tmp_path):
    # The check has teeth: the hidden ``owner`` is neither sent nor received.
    (tmp_path / "src").mkdir()
    shutil.copy(project.cwd / "src" / "api.ts", tmp_path / "src" / "api.ts")
    (tmp_path / "src" / "wrong.ts").write_text(
        'import { createApi, type Note } from "./api";\n'
        "const api = createApi();\n"
        "// @ts-expect-error: owner is a HiddenField\n"
        'await api.notes.create({ data: { text: "Mine", owner: 1 } });\n'
        "declare const note: Note;\n"
        "// @ts-expect-error: nor is it in what replies carry\n"
        "void note.owner;\n",
        encoding="utf-8",
    )
    compiles(tmp_path)
    (tmp_path / "src" / "right.ts").write_text(
        'import { createApi } from "./api";\n'
        "// @ts-expect-error\n"
        'await createApi().notes.create({ data: { text: "Mine" } });\n',
        encoding="utf-8",
    )
    result = tsc(tmp_path)
    assert "Unused '@ts-expect-error' directive" in result.stdout, result.stdout
