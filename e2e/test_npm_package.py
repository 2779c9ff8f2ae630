"""The npm package as an application gets it: packed, installed, typechecked, bundled, run.

``npm pack`` builds ``client/`` into a tarball; a throw-away application in a temporary
directory installs it (and esbuild) with npm, typechecks its TypeScript against the
package's declarations, bundles it with esbuild and serves it from its own origin. Chromium
runs it against the example under uvicorn, which lets that origin in (CORS) and authenticates
the app by a token: a real reply, an error reply and a push come back.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from djira.testing import LiveServer, free_port
from e2e.conftest import EXAMPLE, ROOT

CLIENT = ROOT / "client"
NPM = shutil.which("npm")
pytestmark = pytest.mark.skipif(NPM is None, reason="npm is not installed (Node 20 with npm)")

APP_TS = """\
import { connect, DjiraError, type Envelope, type Push } from "djira-client";

interface Task { id: number; title: string; project: number; done: boolean }
interface Page<T> { count: number; results: T[] }

const params = new URLSearchParams(location.search);
const client = connect(params.get("server")!, { auth: { token: params.get("token")! } });
const show = (key: string, value: unknown) => {
  document.body.dataset[key] = typeof value === "string" ? value : JSON.stringify(value);
};

const list: Envelope<Page<Task>> = await client.request<Page<Task>>("tasks", {
  query: { page_size: 1 },
});
show("list", { status: list.status, count: list.data.count });

try {
  await client.request("tasks", { action: "POST", data: { title: "" } });
} catch (error) {
  if (error instanceof DjiraError) show("refused", { status: error.status, kind: error.kind });
}

const title = `from the npm package ${Date.now()}`;
const live = client.subscribe<Task>("tasks", { namespace: "subscribe" }, (push: Push<Task>) => {
  if (push.data.title === title) show("push", { type: push.type, title: push.data.title });
});
await live.ready;
const projects = await client.request<{ id: number }[]>("projects");
await client.request("tasks", { action: "POST", data: { title, project: projects.data[0].id } });
"""

TSCONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "module": "ESNext",
        "moduleResolution": "Bundler",
        "lib": ["ES2022", "DOM"],
        "strict": True,
        "noEmit": True,
        "types": [],
    },
    "files": ["main.ts"],
}


def run(*args: str, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed in {cwd}:\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    """``npm pack`` of client/ (its ``prepack`` script builds dist/)."""
    out = tmp_path_factory.mktemp("pack")
    assert NPM is not None
    run(NPM, "pack", "--pack-destination", str(out), cwd=CLIENT)
    (packed,) = out.glob("djira-client-*.tgz")
    return packed


def test_the_tarball_holds_the_package_and_nothing_else(tarball):
    with tarfile.open(tarball) as archive:
        names = {name.removeprefix("package/") for name in archive.getnames()}
        manifest = json.load(archive.extractfile("package/package.json"))  # type: ignore[arg-type]
    assert {"package.json", "README.md", "LICENSE", "dist/client.js", "dist/client.d.ts"} <= names
    assert not any(name.startswith(("test/", "node_modules/")) for name in names), names
    assert manifest["name"] == "djira-client"
    assert manifest["exports"]["."]["types"] == "./dist/client.d.ts"
    assert "socket.io-client" in manifest["dependencies"]
    assert "private" not in manifest


@pytest.fixture(scope="module")
def app(tmp_path_factory, tarball) -> Path:
    """A throw-away esbuild application that depends on the packed tarball; built."""
    app = tmp_path_factory.mktemp("app")
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True}))
    (app / "main.ts").write_text(APP_TS)
    (app / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    public = app / "public"
    public.mkdir()
    (public / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>app</title>'
        '<script type="module" src="app.js"></script></head><body></body></html>'
    )
    assert NPM is not None
    run(NPM, "install", "--no-audit", "--no-fund", str(tarball), "esbuild@^0.28", cwd=app)
    # Types: the app is checked against the declarations the package's `exports` names.
    tsc = ROOT / "node_modules" / "typescript" / "bin" / "tsc"
    if tsc.exists():
        run("node", str(tsc), "-p", "tsconfig.json", cwd=app)
    run(
        str(app / "node_modules" / ".bin" / "esbuild"),
        "main.ts",
        "--bundle",
        "--format=esm",
        "--target=es2022",
        "--outfile=public/app.js",
        cwd=app,
    )
    # One socket.io-client, resolved from the app's node_modules, not a second copy.
    assert (app / "node_modules" / "socket.io-client").is_dir()
    return public


@pytest.fixture(scope="module")
def app_origin(app) -> Iterator[str]:
    """The built app on its own origin (a static file server on another port)."""
    handler = functools.partial(QuietHandler, directory=str(app))
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def cors_server(example_env, app_origin) -> Iterator[LiveServer]:
    """The example, letting the app's origin in."""
    env = {**example_env, "DJIRA_CORS_ALLOWED_ORIGINS": app_origin}
    server = LiveServer("example.asgi:application", env=env, cwd=str(EXAMPLE)).start()
    yield server
    server.stop()


def test_the_packed_client_runs_in_a_bundled_app(browser, app_origin, cors_server, tokens):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{app_origin}/?server={cors_server.url}&token={tokens['demo']}")
        body = page.locator("body")
        expect(body).to_have_attribute("data-push", re.compile(r'^\{"type":"create",'))
        listed = json.loads(body.get_attribute("data-list") or "{}")
        assert listed["status"] == 200 and listed["count"] >= 1, listed
        assert json.loads(body.get_attribute("data-refused") or "{}") == {
            "status": 400,
            "kind": "reply",
        }
        assert errors == []
    finally:
        context.close()
