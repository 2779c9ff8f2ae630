"""djira-client/react in Chromium: a Vite + React app built from the packed npm tarball.

The app (e2e/apps/react_tasks.ts) lists the example's tasks with ``useSubscription`` over
the facade ``manage.py djira_typescript`` generated, and adds and completes tasks through
it. Two browser contexts (the same user, two screens) edit; both lists converge. The
server restarts while a task is added from another process: both screens reconnect, catch
up and converge again. Unmounting a component unsubscribes it: the server's presence count
of its room drops (no leaked rooms).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from djira.testing import LiveServer
from e2e.conftest import EXAMPLE, ThreadedClient, manage
from e2e.origin import serve_directory
from e2e.test_npm_package import NPM, run, tarball  # noqa: F401 - the tarball fixture
from tests.tsc import compiles, generate_for_example

APPS = Path(__file__).resolve().parent / "apps"
pytestmark = [
    pytest.mark.skipif(NPM is None, reason="npm is not installed (Node 20 with npm)"),
    # npm installs Vite and React from the registry, then Vite builds: minutes on a slow line.
    pytest.mark.timeout(600),
]
INDEX_HTML = """\
<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>tasks</title></head>
<body><div id="root"></div><script type="module" src="/src/main.ts"></script></body></html>
"""


@pytest.fixture(scope="module")
def react_app(tmp_path_factory, tarball, example_env) -> Path:  # noqa: F811
    """The app, installed from the tarball with Vite and React, typechecked and built."""
    app = tmp_path_factory.mktemp("react-app")
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True}))
    (app / "index.html").write_text(INDEX_HTML)
    src = app / "src"
    src.mkdir()
    shutil.copy(APPS / "react_tasks.ts", src / "main.ts")
    generate_for_example("-o", str(src / "api.ts"), env=example_env)
    assert NPM is not None
    packages = ["vite@^7", "react@^19", "react-dom@^19", "@types/react@^19", "@types/react-dom@^19"]
    run(NPM, "install", "--no-audit", "--no-fund", str(tarball), *packages, cwd=app)
    # Typechecked against the installed package's declarations, as an application is.
    compiles(app, sources=False)
    run(NPM, "exec", "--", "vite", "build", "--outDir", "dist", "--logLevel", "warn", cwd=app)
    return app / "dist"


@pytest.fixture(scope="module")
def app_origin(react_app) -> Iterator[str]:
    with serve_directory(react_app) as origin:
        yield origin


@pytest.fixture(scope="module")
def server(example_env, app_origin) -> Iterator[LiveServer]:
    """The example, letting the app's origin in; the test restarts it on the same port."""
    env = {**example_env, "DJIRA_CORS_ALLOWED_ORIGINS": app_origin}
    live = LiveServer("example.asgi:application", env=env, cwd=str(EXAMPLE)).start()
    yield live
    live.stop()


def titles(page) -> list[str]:
    return page.locator("#tasks li").evaluate_all("items => items.map(i => i.dataset.title)")


def articles_presence(server: LiveServer, token: str) -> int:
    """Subscribed connections of the articles room, as the server counts them (all processes)."""
    client = ThreadedClient(server.url, token)
    try:
        reply = client.call("articles", {"namespace": "presence", "action": "GET"})
        assert reply["status"] == 200, reply
        return int(reply["data"][0]["connections"])
    finally:
        client.close()


def wait_for(condition, what: str, timeout: float = 15) -> None:
    """Poll a server-side condition (a browser-side one uses expect())."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_two_screens_converge_survive_a_restart_and_unsubscribe_on_unmount(
    browser, app_origin, server, tokens, example_env
):
    marker = f"react-{time.time_ns()}"
    url = f"{app_origin}/?server={server.url}&token={tokens['demo']}&marker={marker}"
    pages, errors = [], []
    for _ in range(2):
        context = browser.new_context()
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        expect(page.locator("#tasks")).to_have_attribute("data-status", "live")
        pages.append(page)
    a, b = pages
    try:
        # Edits on either screen reach both.
        a.fill("#title", "milk")
        a.click("#add")
        b.fill("#title", "bread")
        b.click("#add")
        for page in pages:
            expect(page.locator("#tasks li")).to_have_count(2)
        assert sorted(titles(a)) == sorted(titles(b)) == ["bread", "milk"]
        b.locator("#tasks li[data-title=milk] .toggle").click()
        for page in pages:
            milk = page.locator("#tasks li[data-title=milk]")
            expect(milk).to_have_attribute("data-done", "true")

        # A restart, and a task added meanwhile by another process (the outbox keeps its push).
        server.stop()
        for page in pages:
            expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
        manage(
            example_env,
            "shell",
            "-c",
            "from board.models import Task;"
            "t = Task.objects.filter(owner__username='demo').first();"
            f"Task.objects.create(owner=t.owner, project=t.project, title='{marker} eggs')",
        )
        server.start()
        for page in pages:
            # socket.io-client backs off up to 5 s (plus half again, at random) between
            # attempts, and the restart took that long: allow a full back-off and more.
            expect(page.locator("#status")).to_have_attribute(
                "data-state", "connected", timeout=20_000
            )
            expect(page.locator("#tasks li")).to_have_count(3)
            # Caught up (recovered: true) or, with the history lost, reloaded (false): either
            # way the screen says which and shows the task.
            expect(page.locator("#tasks")).not_to_have_attribute("data-recovered", "null")
        assert sorted(titles(a)) == sorted(titles(b)) == ["bread", "eggs", "milk"]
        a.fill("#title", "jam")
        a.click("#add")
        expect(b.locator("#tasks li[data-title=jam]")).to_have_count(1)

        # Unmounting unsubscribes: the server counts one subscriber of the articles room less.
        for page in pages:
            expect(page.locator("#articles")).to_have_attribute("data-status", "live")
        token = tokens["demo"]
        wait_for(lambda: articles_presence(server, token) == 2, "both screens subscribed")
        a.click("#toggle-articles")
        expect(a.locator("#articles")).to_have_count(0)
        wait_for(lambda: articles_presence(server, token) == 1, "a's room left")
        b.click("#toggle-articles")
        wait_for(lambda: articles_presence(server, token) == 0, "no room left behind")
        assert errors == []
    finally:
        for page in pages:
            page.context.close()


def test_pushes_lost_in_a_drop_show_as_recovered_false_and_the_list_reloads(
    browser, app_origin, server, example_env
):
    # A user of its own: the hundreds of tasks below stay off the demo board.
    username, marker = f"reacter{time.time_ns()}", f"lost-{time.time_ns()}"
    created = manage(
        example_env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model;"
        "from rest_framework.authtoken.models import Token;"
        "from board.models import Project;"
        f"u = get_user_model().objects.create_user('{username}', password='x');"
        "Project.objects.create(owner=u, name='Board');"
        "print('TOKEN', Token.objects.create(user=u).key)",
    )
    token = next(line for line in created.splitlines() if line.startswith("TOKEN ")).split()[1]
    context = browser.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto(f"{app_origin}/?server={server.url}&token={token}&marker={marker}")
        expect(page.locator("#tasks")).to_have_attribute("data-status", "live")
        page.fill("#title", "before")
        page.click("#add")
        expect(page.locator("#tasks li")).to_have_count(1)
        server.stop()
        expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
        # More pushes to the user's room than the server's history keeps (HISTORY_SIZE, 100),
        # one of them a task the list shows.
        manage(
            example_env,
            "shell",
            "-c",
            "from board.models import Project, Task;"
            f"p = Project.objects.get(owner__username='{username}');"
            "[Task.objects.create(owner=p.owner, project=p, title=f'filler {i}') "
            "for i in range(300)];"
            f"Task.objects.create(owner=p.owner, project=p, title='{marker} after')",
        )
        server.start()
        tasks = page.locator("#tasks")
        expect(tasks).to_have_attribute("data-recovered", "false")
        expect(tasks).to_have_attribute("data-status", "live")
        expect(page.locator("#tasks li")).to_have_count(2)
        assert sorted(titles(page)) == ["after", "before"]
    finally:
        context.close()
