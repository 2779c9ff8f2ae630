"""The Hooks page's AsyncAPI download, in real headless Chromium against the example."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.test_asyncapi import validate


def test_the_hooks_page_downloads_a_valid_asyncapi_document(admin_page, example_server, tmp_path):
    page = admin_page
    page.goto("/admin/djira/hook/")
    link = page.get_by_role("link", name="Download the AsyncAPI document")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "asyncapi.json"
    target = tmp_path / "asyncapi.json"
    download.save_as(target)
    document = json.loads(target.read_text())
    # The server the browser reached, the hooks it serves, and a document the parser accepts.
    assert document["servers"]["djira"]["host"] == example_server.url.split("://")[1]
    # (djira-admin-live: the live admin pages' hook, served since board's TaskAdmin is live.)
    assert {"articles", "users", "projects", "tasks", "djira-admin-live"} == {
        c["address"] for c in document["channels"].values()
    }
    assert validate(document)["errors"] == []


def test_a_logged_out_browser_gets_the_login_page(browser, example_server):
    context = browser.new_context(base_url=example_server.url)
    page = context.new_page()
    response = page.goto("/admin/djira/hook/asyncapi.json")
    assert response is not None and response.ok
    expect(page.locator("#id_username")).to_be_visible()
    context.close()
