"""The console's correlated trace and the inspector's act-as, in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from djira.testing import LiveServer
from e2e.conftest import EXAMPLE, login, manage


def test_a_traffic_row_opens_its_trace_with_sql_and_pushes(admin_page, sio_client):
    page = admin_page
    page.goto("/admin/djira/traffic/")
    watcher, writer = sio_client(), sio_client()
    subscribed = watcher.call("articles", {"namespace": "subscribe", "action": "SUBSCRIPTION"})
    assert subscribed["status"] == 200
    reply = writer.call(
        "articles",
        {"action": "POST", "requestId": "e2e-traced", "data": {"title": "Traced in e2e"}},
    )
    assert reply["status"] == 201, reply
    page.locator("tr.djira-dir-out", has_text="e2e-traced").click()
    panel = page.locator("#djira-trace .djira-trace-panel")
    expect(panel).to_contain_text("Trace of articles")
    expect(panel.locator(".djira-trace-sql-count")).to_contain_text("SQL quer")
    expect(panel.locator("code.djira-sql").first).to_be_visible()
    expect(panel.locator("code.djira-sql", has_text="blog_article").first).to_be_visible()
    expect(panel).not_to_contain_text("Traced in e2e")  # query parameters are hidden
    expect(panel.locator("tr.djira-trace-permission").first).to_be_visible()
    expect(panel.locator("tr.djira-trace-reply")).to_contain_text("201")
    # The push reached the watcher's socket (Refresh: delivery is reported after the emit).
    panel.locator("button", has_text="Refresh").click()
    expect(panel.locator(".djira-trace-deliveries")).to_contain_text("article")
    expect(panel.locator(".djira-trace-recipients")).to_have_text("1")
    # The panel stays while the log keeps updating, until closed.
    writer.call("articles", {"action": "GET", "requestId": "e2e-after"})
    expect(page.locator("tr.djira-dir-out", has_text="e2e-after")).to_have_count(1)
    expect(panel).to_be_visible()
    panel.locator(".djira-trace-close").first.click()
    expect(page.locator("#djira-trace .djira-trace-panel")).to_have_count(0)
    # Another row opens again, its own trace.
    page.locator("tr.djira-dir-out", has_text="e2e-after").click()
    expect(panel).to_contain_text("Trace of articles")
    expect(panel.locator("tr.djira-trace-reply")).to_contain_text("200")


@pytest.fixture(scope="module")
def act_as_server(example_env) -> Iterator[LiveServer]:
    env = {**example_env, "DJANGO_SETTINGS_MODULE": "e2e.actas_settings"}
    server = LiveServer("example.asgi:application", env=env, cwd=str(EXAMPLE)).start()
    yield server
    server.stop()


def admins_article(env: dict[str, str]) -> int:
    out = manage(
        env,
        "shell",
        "-c",
        (
            "from blog.models import Article;"
            "from django.contrib.auth import get_user_model;"
            "admin = get_user_model().objects.get(username='admin');"
            "print('PK', Article.objects.create(title='By admin', author=admin).pk)"
        ),
    )
    return int(next(line for line in out.splitlines() if line.startswith("PK "))[3:])


def acted_as_log(env: dict[str, str]) -> list[str]:
    out = manage(
        env,
        "shell",
        "-c",
        (
            "from django.contrib.admin.models import LogEntry;"
            "[print('LOG', e.user.username, '|', e.action_flag, '|', e.object_repr, '|',"
            " e.change_message) for e in "
            "LogEntry.objects.filter(change_message__startswith='Acted as')]"
        ),
    )
    return [line[4:] for line in out.splitlines() if line.startswith("LOG ")]


def test_a_superuser_acts_as_a_user_in_the_inspector(browser, act_as_server, example_env):
    pk = admins_article(example_env)
    page = login(browser, act_as_server, "admin", "admin")
    try:
        page.goto("/admin/djira/inspector/")
        expect(page.locator("#djira-state")).to_have_text("connected")
        page.select_option("#djira-act-as", label="demo")
        expect(page.locator("#djira-acting-user")).to_have_text("demo")
        expect(page.locator("#djira-state")).to_have_text("connected")
        page.select_option("#djira-req-hook", "users")
        page.select_option("#djira-namespace", label="me")
        page.click("#djira-send")
        expect(page.locator("#djira-reply")).to_contain_text('"username": "demo"')
        # demo may not edit the admin's article: the user's permissions decide.
        page.select_option("#djira-req-hook", "articles")
        page.select_option("#djira-namespace", label="(detail)")
        page.select_option("#djira-action", "PATCH")
        page.fill("#djira-pk", str(pk))
        page.fill("#djira-data", '{"title": "Taken over"}')
        page.click("#djira-send")
        expect(page.locator("#djira-status")).to_have_text("403")
        expect(page.locator(".djira-history-item").first).to_contain_text("as demo")
        # Back to myself: the same request is the admin's own, and allowed.
        page.select_option("#djira-act-as", index=0)
        expect(page.locator("#djira-acting-user")).to_have_text("admin")
        expect(page.locator("#djira-state")).to_have_text("connected")
        page.click("#djira-send")
        expect(page.locator("#djira-status")).to_have_text("200")
    finally:
        page.context.close()
    log = acted_as_log(example_env)
    # Their own flag (not a change: 2) and wording, the request and its status in the message.
    summary = "Inspector request as demo: users me GET -> 200"
    assert any(line.startswith(f"admin | 4 | {summary} | Acted as demo") for line in log), log
    assert any("articles PATCH pk=" in line and line.endswith("-> 403") for line in log), log
    # The admin's "Recent actions": that wording, without the pencil of a change or a link.
    page = login(browser, act_as_server, "admin", "admin")
    try:
        entry = page.locator("#recent-actions-module li", has_text=summary).first
        expect(entry).to_be_visible()
        assert "changelink" not in (entry.get_attribute("class") or "")
        expect(entry.locator("a")).to_have_count(0)
        expect(entry).to_contain_text("Inspector")  # the content type, below
    finally:
        page.context.close()
