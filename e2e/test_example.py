"""The example's task board in real Chromium: two tabs of one user, and another user."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect


def sign_in(browser, server, username: str):
    """A new browser context (its own cookies) signed in on the board as ``username``."""
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.fill("#id_username", username)
    page.fill("#id_password", username)
    page.click("button[type=submit]")
    ready(page)
    return page


def ready(page):
    """The board script ran, subscribed and loaded its lists."""
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    expect(page.locator("#board-state")).to_have_text("live")
    expect(page.locator("#board-offline")).to_be_hidden()


def new_tab(page):
    tab = page.context.new_page()
    tab.goto("/")
    ready(tab)
    return tab


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def add_project(page, name: str) -> str:
    page.fill("#new-project-name", name)
    page.click("#new-project button[type=submit]")
    item = page.locator("#project-list li", has_text=name)
    expect(item).to_have_count(1)
    return item.get_attribute("data-project")


def add_task(page, title: str, project: str) -> None:
    page.select_option("#new-task-project", project)
    page.fill("#new-task-title", title)
    page.click("#new-task button[type=submit]")


# Notes when a row with the given title shows up.
SEEN_AT = """(title) => new MutationObserver((_, observer) => {
  if ([...document.querySelectorAll(".task-title")].some((n) => n.textContent === title)) {
    window.seenAt = Date.now();
    observer.disconnect();
  }
}).observe(document.getElementById("task-list"), {childList: true, subtree: true})"""


# Notes when the new-task form is submitted (Date.now(): both tabs share the clock).
SENT_AT = """() => document.getElementById("new-task").addEventListener(
  "submit", () => { window.sentAt = Date.now(); }, {capture: true, once: true})"""


@pytest.fixture
def demo_tabs(browser, example_server):
    first = sign_in(browser, example_server, "demo")
    second = new_tab(first)
    yield first, second
    first.context.close()


@pytest.fixture
def sam_tab(browser, example_server):
    page = sign_in(browser, example_server, "sam")
    yield page
    page.context.close()


def test_a_task_added_in_one_tab_appears_in_the_other_and_for_nobody_else(
    demo_tabs, sam_tab, capsys
):
    first, second = demo_tabs
    project = add_project(first, unique("Errands"))
    # The project reached the other tab by a push, not a reload.
    expect(second.locator(f'#project-list li[data-project="{project}"]')).to_have_count(1)

    title = unique("Buy milk")
    second.evaluate(SEEN_AT, title)
    first.evaluate(SENT_AT)
    add_task(first, title, project)
    expect(second.locator(".task", has_text=title)).to_be_visible()
    with capsys.disabled():  # a figure for the record; speed is asserted nowhere
        delay = second.evaluate("window.seenAt") - first.evaluate("window.sentAt")
        print(f"\n  tab to tab: {delay} ms from the submit to the row in the other tab")
    expect(first.locator(".task", has_text=title)).to_be_visible()

    # sam's own change is pushed after demo's, through the same server: once it is on sam's
    # page, demo's push would have arrived too if it were sent to sam.
    sam_project = add_project(sam_tab, unique("Sam's"))
    add_task(sam_tab, unique("Sam's task"), sam_project)
    expect(sam_tab.locator(".task", has_text="Sam's task")).to_have_count(1)
    expect(sam_tab.locator(".task", has_text=title)).to_have_count(0)
    expect(sam_tab.locator(f'#project-list li[data-project="{project}"]')).to_have_count(0)
    expect(first.locator(".task", has_text="Sam's task")).to_have_count(0)


def test_completing_a_task_updates_the_other_tab_and_the_progress(demo_tabs):
    first, second = demo_tabs
    project = add_project(first, unique("Garden"))
    title = unique("Mow the lawn")
    add_task(first, title, project)
    progress = f'#project-list li[data-project="{project}"] .project-count'
    expect(second.locator(progress)).to_have_text("0/1")  # pushed by the dispatcher

    task = second.locator(".task", has_text=title)
    task.locator(".task-done").check()
    # The first tab shows open tasks only: the done task leaves it; both counts move.
    expect(first.locator(".task", has_text=title)).to_have_count(0)
    expect(first.locator(progress)).to_have_text("1/1")
    expect(second.locator(progress)).to_have_text("1/1")

    first.select_option("#filter-done", "true")
    done = first.locator(".task", has_text=title)
    expect(done).to_have_class(re.compile(r"\bis-done\b"))
    expect(done.locator(".task-done")).to_be_checked()


def test_editing_and_deleting_a_task_from_the_page(demo_tabs):
    first, second = demo_tabs
    project = add_project(first, unique("Chores"))
    title = unique("Call the bank")
    add_task(first, title, project)
    first.locator(".task", has_text=title).locator(".task-edit").click()
    editor = first.locator(".task-editor")
    editor.locator("input[name=title]").fill(f"{title} again")
    editor.locator("textarea[name=notes]").fill("about the card")
    editor.locator("select[name=priority]").select_option(label="high")
    editor.locator("button[type=submit]").click()
    edited = second.locator(".task", has_text=f"{title} again")
    expect(edited).to_contain_text("about the card")
    expect(edited.locator(".task-priority")).to_have_text("high")

    # An empty title is refused by the serializer, shown next to the form.
    first.locator(".task", has_text=title).locator(".task-edit").click()
    first.locator(".task-editor input[name=title]").fill(" ")
    first.locator(".task-editor button[type=submit]").click()
    expect(first.locator(".task-editor .error")).to_contain_text("title")
    first.locator(".task-editor .task-cancel").click()

    first.locator(".task", has_text=title).locator(".task-delete").click()
    expect(second.locator(".task", has_text=title)).to_have_count(0)


def test_pages_filters_and_search(demo_tabs, sio_client):
    first, _ = demo_tabs
    project = add_project(first, unique("Reading"))
    client = sio_client("demo")  # token authentication, from Python
    for n in range(12):
        reply = client.call(
            "tasks", {"action": "POST", "data": {"title": f"Chapter {n:02}", "project": project}}
        )
        assert reply["status"] == 201, reply
    first.locator(f'#project-list li[data-project="{project}"] button').click()
    expect(first.locator("#page-info")).to_have_text("Page 1 of 2 · 12 tasks")
    expect(first.locator(".task")).to_have_count(10)
    first.click("#page-next")
    expect(first.locator("#page-info")).to_have_text("Page 2 of 2 · 12 tasks")
    expect(first.locator(".task")).to_have_count(2)
    first.fill("#filter-search", "Chapter 07")
    expect(first.locator(".task")).to_have_count(1)
    expect(first.locator("#page-info")).to_have_text("Page 1 of 1 · 1 task")


def test_token_clients_see_only_their_users_rows(sio_client):
    demo, sam = sio_client("demo"), sio_client("sam")
    projects = demo.call("projects", {})["data"]
    created = demo.call(
        "tasks",
        {"action": "POST", "data": {"title": "private", "project": projects[0]["id"]}},
    )
    assert created["status"] == 201
    pk = created["data"]["id"]
    assert sam.call("tasks", {"pk": pk})["status"] == 404
    patch = sam.call("tasks", {"action": "PATCH", "pk": pk, "data": {"title": "mine now"}})
    assert patch["status"] == 404
    # Nor can sam file a task under demo's project.
    refused = sam.call(
        "tasks", {"action": "POST", "data": {"title": "x", "project": projects[0]["id"]}}
    )
    assert refused["status"] == 400
    assert "project" in refused["data"]
    listed = sam.call("tasks", {"query": {"search": "private", "page_size": 100}})["data"]
    assert all(task["id"] != pk for task in listed["results"])


def test_the_board_requires_signing_in(browser, example_server):
    context = browser.new_context(base_url=example_server.url)
    try:
        page = context.new_page()
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
        page.fill("#id_username", "demo")
        page.fill("#id_password", "wrong")
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_contain_text("Wrong username or password")
    finally:
        context.close()


def test_the_board_says_when_its_script_did_not_load(browser, example_server):
    context = browser.new_context(base_url=example_server.url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.route(re.compile(r"/static/djira/js/client\.js"), lambda route: route.abort())
        page.goto("/login/?next=/")
        page.fill("#id_username", "demo")
        page.fill("#id_password", "demo")
        page.click("button[type=submit]")
        expect(page.locator("#board-offline")).to_be_visible()
        expect(page.locator("#board-offline")).to_contain_text("did not load")
        expect(page.locator("#board-state")).to_have_text("connecting")
    finally:
        context.close()


def test_each_demo_user_starts_with_a_board_of_their_own(sam_tab):
    # demo's starter projects are Website and Home (the demo command).
    expect(sam_tab.locator("#project-list li", has_text="Conference talk")).to_have_count(1)
    expect(sam_tab.locator("#project-list li", has_text="Website")).to_have_count(0)
    demos = sam_tab.locator(".task-title", has_text="Write the launch announcement")
    expect(demos).to_have_count(0)


def test_no_page_asks_for_a_missing_favicon(demo_tabs):
    first, _ = demo_tabs
    icon = first.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    declared = first.locator("link[rel=icon]").get_attribute("href")
    assert first.request.get(declared).status == 200
