"""The djira console in real headless Chromium, against the example under uvicorn."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from e2e.conftest import EXAMPLE, login, manage


def test_admin_index_leads_to_the_hooks_page(admin_page):
    page = admin_page
    expect(page.locator("#content-main .app-djira")).to_contain_text("Connections")
    page.locator("#content-main a[href='/admin/djira/hook/']").first.click()
    expect(page.locator('[data-hook="articles"]')).to_contain_text("blog.hooks.ArticleAPIHook")
    expect(page.locator('[data-hook="users"]')).to_contain_text("set_password")
    expect(page.locator('[data-hook="users"]')).to_contain_text("IsAuthenticated")


def test_connections_page_follows_a_client_without_reload(admin_page, sio_client):
    page = admin_page
    page.goto("/admin/djira/connection/")
    client = sio_client()
    row = page.locator(f'tr[data-sid="{client.sid}"]')
    expect(row).to_contain_text("demo")
    client.disconnect()
    expect(row).to_have_count(0)


def test_traffic_log_shows_a_clients_requests(admin_page, sio_client):
    page = admin_page
    page.goto("/admin/djira/traffic/")
    expect(page.locator("#djira-stats svg")).to_be_visible()
    client = sio_client()
    reply = client.call("articles", {"action": "GET", "requestId": "e2e-list-1"}, timeout=5)
    assert reply["status"] == 200
    row = page.locator("tr.djira-dir-out", has_text="e2e-list-1")
    expect(row).to_contain_text("articles")
    expect(row).to_contain_text("200")
    # A row expands to its payload, and stays open while the log keeps updating.
    details = page.locator(f'details[data-key="{row.get_attribute("data-key")}"]')
    details.locator("summary").click()
    expect(details.locator("pre")).to_contain_text('"count"')
    client.call("articles", {"action": "GET", "requestId": "e2e-list-2"}, timeout=5)
    expect(page.locator("tr.djira-dir-out", has_text="e2e-list-2")).to_have_count(1)
    expect(details.locator("pre")).to_be_visible()


def test_traffic_pause_and_server_side_filter(admin_page, sio_client):
    page = admin_page
    page.goto("/admin/djira/traffic/")
    client = sio_client()
    page.select_option("select[name=hook]", "users")
    page.click("#djira-pause")
    expect(page.locator("#djira-pause")).to_have_text("Resume")
    client.call("users", {"namespace": "me", "requestId": "e2e-paused"}, timeout=5)
    client.call("articles", {"requestId": "e2e-other-hook"}, timeout=5)
    page.click("#djira-pause")
    expect(page.locator("tr.djira-dir-out", has_text="e2e-paused")).to_have_count(1)
    expect(page.locator("tr", has_text="e2e-other-hook")).to_have_count(0)
    page.click("#djira-clear")
    expect(page.locator("tr", has_text="e2e-paused")).to_have_count(0)


def inspector(page):
    page.goto("/admin/djira/inspector/")
    expect(page.locator("#djira-state")).to_have_text("connected")


def test_inspector_sends_a_list_request_as_the_logged_in_user(admin_page):
    page = admin_page
    inspector(page)
    page.select_option("#djira-req-hook", "users")
    page.select_option("#djira-namespace", label="(list)")
    page.select_option("#djira-action", "GET")
    page.click("#djira-send")
    expect(page.locator("#djira-status")).to_have_text("200")
    expect(page.locator("#djira-reply")).to_contain_text('"results"')
    expect(page.locator("#djira-rtt")).to_have_text(re.compile(r"\d+\.\d ms"))
    # The socket is authenticated by the admin session: "me" is the logged-in admin.
    page.select_option("#djira-namespace", label="me")
    page.click("#djira-send")
    expect(page.locator("#djira-reply")).to_contain_text('"username": "admin"')
    # Edit and resend from the history; copy as a Python snippet.
    expect(page.locator(".djira-history-item")).to_have_count(2)
    page.locator(".djira-history-item button", has_text="Edit").last.click()
    expect(page.locator("#djira-namespace option:checked")).to_have_text("(list)")
    page.locator(".djira-history-item button", has_text="Resend").first.click()
    expect(page.locator(".djira-history-item")).to_have_count(3)
    page.click("#djira-copy-py")
    expect(page.locator("#djira-snippet")).to_have_value(re.compile(r'sio\.call\("users"'))


def test_inspector_shows_refusals_from_the_real_permission_path(admin_page):
    page = admin_page
    inspector(page)
    page.select_option("#djira-req-hook", "articles")
    page.select_option("#djira-namespace", label="(list)")
    page.select_option("#djira-action", "POST")
    expect(page.locator("#djira-field-title")).to_be_visible()  # generated from the serializer
    page.fill("#djira-field-title", "")
    page.click("#djira-send")
    expect(page.locator("#djira-status")).to_have_text("400")
    expect(page.locator("#djira-reply")).to_contain_text("title")


def test_inspector_rejects_bad_json_with_a_message(admin_page):
    page = admin_page
    inspector(page)
    page.fill("#djira-query", "{not json")
    page.click("#djira-send")
    expect(page.locator("#djira-form-error")).to_contain_text("query is not valid JSON")


def test_inspector_subscription_shows_a_push_from_another_process(
    admin_page, example_env, requires_redis
):
    page = admin_page
    inspector(page)
    page.select_option("#djira-req-hook", "articles")
    # The example's articles hook has an observer behind its "subscribe" route.
    page.select_option("#djira-namespace", label="subscribe")
    page.select_option("#djira-action", "SUBSCRIPTION")
    page.click("#djira-send")
    expect(page.locator("#djira-status")).to_have_text("200")
    pane = page.locator(".djira-subscription[data-hook='articles']")
    expect(pane).to_be_visible()
    # Saved by another process (a shell), delivered through Redis.
    manage(
        example_env,
        "shell",
        "-c",
        "from blog.models import Article; Article.objects.create(title='pushed from a shell')",
    )
    expect(pane.locator(".djira-push")).to_contain_text("pushed from a shell")
    pane.locator("button", has_text="Unsubscribe").click()
    expect(pane).to_have_count(0)


def test_disconnect_button_drops_the_client(admin_page, sio_client):
    page = admin_page
    client = sio_client()
    sid = client.sid
    page.goto(f"/admin/djira/connection/{sid}/")
    expect(page.locator(".djira-connection-detail")).to_contain_text("demo")
    page.click("input[value='Disconnect this client']")
    expect(page.locator(".messagelist")).to_contain_text(f"Disconnected {sid}")
    assert client.disconnected.wait(5), "the client was not disconnected"
    expect(page.locator(f'tr[data-sid="{sid}"]')).to_have_count(0)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/djira/hook/",
        "/admin/djira/connection/",
        "/admin/djira/connection/rows/",
        "/admin/djira/room/",
        "/admin/djira/traffic/",
        "/admin/djira/traffic/rows/",
        "/admin/djira/inspector/",
    ],
)
def test_non_staff_users_reach_none_of_it(browser, example_server, path):
    page = login(browser, example_server, "demo", "demo")
    try:
        expect(page.locator(".errornote")).to_be_visible()  # not a staff account
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/admin/login/"))
        expect(page.locator("table.djira-table")).to_have_count(0)
    finally:
        page.context.close()


def test_staff_without_djira_permissions_get_403(browser, example_server):
    page = login(browser, example_server, "staffer", "staffer")
    try:
        expect(page.locator("#content-main")).to_be_visible()
        expect(page.locator(".app-djira")).to_have_count(0)
        response = page.goto("/admin/djira/traffic/")
        assert response.status == 403
    finally:
        page.context.close()


def test_a_second_process_shows_up_and_goes_away(
    admin_page, example_env, sio_client, requires_redis
):
    from djira.testing import LiveServer

    page = admin_page
    page.goto("/admin/djira/connection/")
    other = LiveServer("example.asgi:application", env=example_env, cwd=str(EXAMPLE)).start()
    try:
        client = sio_client(url=other.url)
        sid = client.sid
        expect(page.locator(".djira-process")).to_have_count(2)
        expect(page.locator(".djira-processes")).to_contain_text(str(other.process.pid))
        # The connection lives in the other process; this page's process shows it.
        expect(page.locator(f'tr[data-sid="{sid}"]')).to_contain_text("demo")
        # Disconnecting it from this process goes through Redis to the one holding it.
        page.goto(f"/admin/djira/connection/{sid}/")
        page.click("input[value='Disconnect this client']")
        expect(page.locator(".messagelist")).to_contain_text(f"Disconnected {sid}")
        assert client.disconnected.wait(5), "the remote client was not disconnected"
        client.close()
        # A crash says no goodbye: the process must age out of Redis on its own.
        other.process.kill()
        other.process.wait()
        expect(page.locator(".djira-process")).to_have_count(1, timeout=8_000)
    finally:
        other.stop()
