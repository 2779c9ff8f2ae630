"""The generated typed facade in Chromium, against the example under uvicorn.

``manage.py djira_typescript --validators`` writes the example's module; a small page uses
it (``createApi(client, {validate: true})``): list, create, a namespace's POST, a push
through ``api.tasks.subscribe``, an error reply, and a reply that fails its schema. The
page is typechecked with ``tsc --strict``, bundled with esbuild ("djira-client" resolved
to the client's sources) and served on an origin of its own that the server lets in.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from djira.testing import LiveServer
from e2e.conftest import EXAMPLE, ROOT
from e2e.origin import serve_directory
from tests.tsc import compiles, generate_for_example

ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
pytestmark = pytest.mark.skipif(not ESBUILD.exists(), reason="run `npm ci` first")

APPS = Path(__file__).resolve().parent / "apps"


def build_app(tmp: Path, env: dict[str, str], *, validators: bool) -> Path:
    """Generate the example's module, typecheck and bundle the page; returns app.js."""
    checks = ["--validators"] if validators else []
    generate_for_example("-o", str(tmp / "api.ts"), *checks, env=env)
    compiles(tmp, "main.ts")  # tsc --strict; its tsconfig.json also guides esbuild
    bundle = [str(ESBUILD), "main.ts", "--bundle", "--format=esm", "--target=es2022"]
    bundle += ["--tsconfig=tsconfig.json", "--outfile=app.js"]
    result = subprocess.run(bundle, cwd=tmp, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "app.js"


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """A directory served on an origin of its own: (directory, origin)."""
    directory = tmp_path_factory.mktemp("typed-app")
    (directory / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">'
        '<script type="module" src="app.js"></script>'
    )
    with serve_directory(directory) as origin:
        yield directory, origin


@pytest.fixture(scope="module")
def cors_example(example_env, app_dir) -> Iterator[LiveServer]:
    """The example, letting the app's origin in."""
    env = {**example_env, "DJIRA_CORS_ALLOWED_ORIGINS": app_dir[1]}
    server = LiveServer("example.asgi:application", env=env, cwd=str(EXAMPLE)).start()
    yield server
    server.stop()


def test_the_typed_facade_runs_against_the_example(
    browser, example_env, app_dir, cors_example, tokens, tmp_path
):
    directory, origin = app_dir
    shutil.copy(APPS / "typed_facade.ts", tmp_path / "main.ts")
    shutil.copy(build_app(tmp_path, example_env, validators=True), directory / "app.js")
    context = browser.new_context()
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text))
        page.goto(f"{origin}/?server={cors_example.url}&token={tokens['demo']}")
        body = page.locator("body")
        try:
            expect(body).to_have_attribute("data-done", "true")
        except AssertionError:
            # What the page got to, and what it logged: a lost connection shows there.
            raise AssertionError((errors, body.evaluate("b => ({...b.dataset})"))) from None
        data = {k: json.loads(v) for k, v in body.evaluate("b => ({...b.dataset})").items()}
        assert data["created"]["status"] == 201 and data["created"]["priority"] in (0, 1, 2)
        assert data["push"] == {"type": "create", "id": True}
        assert data["complete"] == {"status": 200, "done": True}
        assert data["list"] == {"count": 1, "ids": [True]}
        assert data["refused"] == {"status": 400, "kind": "reply"}
        assert data["invalid"]["kind"] == "invalid"
        assert "$.status is 200, not 201" in data["invalid"]["detail"]
        assert errors == []
    finally:
        context.close()
