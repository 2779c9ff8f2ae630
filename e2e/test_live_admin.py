"""Live admin pages (djira.admin.live) in Chromium, against the example under uvicorn.

The example's ``TaskAdmin`` is live and shows superusers every task, other staff their own.
The server runs on the default delivery backend (the database outbox, no Redis), so a save
in a ``manage.py shell`` process reaches the pages through the outbox table. Users: ``admin``
(superuser), ``sam`` (staff, may view and change tasks: sees his own), ``clerk`` (staff, may
view projects, no permission on tasks).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from djira.testing import LiveServer
from e2e.conftest import EXAMPLE, ROOT, ThreadedClient, login, manage

SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
User = get_user_model()
sam = User.objects.get(username='sam')
sam.is_staff = True
sam.save()
sam.user_permissions.add(*Permission.objects.filter(
    content_type__app_label='board', codename__in=['view_task', 'change_task']))
clerk = User.objects.create_user('clerk', password='clerk', is_staff=True)
clerk.user_permissions.add(Permission.objects.get(codename='view_project'))
from rest_framework.authtoken.models import Token
print('TOKENS', *(f'{t.user.username}={t.key}' for t in Token.objects.all()))
"""


@pytest.fixture(scope="module")
def live_env(tmp_path_factory) -> dict[str, str]:
    db = tmp_path_factory.mktemp("live-admin") / "db.sqlite3"
    env = {
        **os.environ,
        "DJIRA_EXAMPLE_DB": str(db),
        "DJIRA_REDIS_URL": "",  # the default backend: the database outbox
        "DJANGO_SETTINGS_MODULE": "example.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(EXAMPLE)]),
        "DJANGO_DEBUG": "1",
    }
    manage(env, "demo", "--no-serve")
    out = manage(env, "shell", "-c", SETUP)
    line = next(line for line in out.splitlines() if line.startswith("TOKENS "))
    env["LIVE_TOKENS"] = line
    return env


@pytest.fixture(scope="module")
def live_app(live_env) -> Iterator[LiveServer]:
    server = LiveServer("example.asgi:application", env=live_env, cwd=str(EXAMPLE)).start()
    yield server
    server.stop()


@pytest.fixture
def api(live_env, live_app):
    """``api(user)`` -> a Socket.IO client of the task board's API, with the user's token."""
    tokens = dict(item.split("=") for item in live_env["LIVE_TOKENS"].split()[1:])
    clients: list[ThreadedClient] = []

    def make(user: str) -> ThreadedClient:
        clients.append(ThreadedClient(live_app.url, tokens[user]))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def shell(env: dict[str, str], code: str) -> str:
    """Run ``code`` in a ``manage.py shell`` process: another process than the server's."""
    return manage(env, "shell", "-c", "from board.models import Task, Project\n" + code)


def task_pk(env: dict[str, str], owner: str, **create: object) -> int:
    fields = ", ".join(f"{k}={v!r}" for k, v in create.items())
    out = shell(
        env,
        f"owner = Project.objects.filter(owner__username={owner!r}).first()\n"
        f"t = Task.objects.create(owner=owner.owner, project=owner, {fields})\n"
        "print('PK', t.pk)",
    )
    return int(out.split("PK")[1].split()[0])


@pytest.fixture
def pages(browser, live_app):
    opened = []

    def open_as(user: str, url: str):
        page = login(browser, live_app, user, user)
        opened.append(page)
        page.goto(url)
        return page

    yield open_as
    for page in opened:
        page.context.close()


def live(page):
    """Wait until the page's live bar says it is subscribed and connected."""
    expect(page.locator("#djira-live .djira-live-state")).to_have_attribute("data-state", "live")


def row(page, pk: int):
    return page.locator("#result_list tbody tr").filter(
        has=page.locator(f'a[href*="/board/task/{pk}/change/"]')
    )


def test_changelist_rows_follow_saves_from_a_shell_and_the_api(pages, live_env, api):
    mine = task_pk(live_env, "sam", title="Sam's live task")
    theirs = task_pk(live_env, "demo", title="Demo's live task")
    boss = pages("admin", "/admin/board/task/")
    sam = pages("sam", "/admin/board/task/")
    live(boss)
    live(sam)
    asked: list[str] = []
    sam.on("request", lambda r: asked.append(r.url) if "djira-live/rows" in r.url else None)
    expect(row(sam, theirs)).to_have_count(0)  # not his: the changelist hides it

    # A shell saves demo's task: the superuser's row changes in place; sam hears nothing.
    shell(live_env, f"t = Task.objects.get(pk={theirs}); t.title = 'Renamed in a shell'; t.save()")
    expect(row(boss, theirs).locator("td.field-title")).to_have_text("Renamed in a shell")
    expect(row(boss, theirs)).to_have_class(re.compile("djira-live-updated"))

    # The API (sam's token) changes sam's task: both pages show it, through the admin's
    # own rendering (the priority's display label, not its stored number).
    sam_api = api("sam")
    reply = sam_api.call("tasks", {"action": "PATCH", "pk": mine, "data": {"priority": 2}})
    assert reply["status"] == 200, reply
    for page in (sam, boss):
        expect(row(page, mine).locator("td.field-priority")).to_have_text("high")
    # Sam's page asked about his own row, never about demo's: demo's change never reached
    # it. (Its second look after subscribing names every row it shows: his, too.)
    named = [set(parse_qs(urlparse(url).query)["_djira_pks"][0].split(",")) for url in asked]
    assert any(str(mine) in pks for pks in named), asked
    assert not any(str(theirs) in pks for pks in named), asked

    # New rows are announced, not inserted; deleted rows are struck through.
    created = sam_api.call(
        "tasks",
        {
            "action": "POST",
            "data": {"title": "Fresh from the API", "project": project_of(live_env, mine)},
        },
    )
    assert created["status"] == 201, created
    expect(sam.locator(".djira-live-new")).to_have_text("1 new — show")
    expect(boss.locator(".djira-live-new")).to_have_text("1 new — show")
    shell(live_env, f"Task.objects.get(pk={theirs}).delete()")
    expect(row(boss, theirs)).to_have_class(re.compile("djira-live-deleted"))
    expect(sam.locator(".djira-live-new")).to_have_text("1 new — show")
    sam.locator(".djira-live-new").click()
    expect(sam.locator("#result_list")).to_contain_text("Fresh from the API")


def project_of(env: dict[str, str], task: int) -> int:
    out = shell(env, f"print('PK', Task.objects.get(pk={task}).project_id)")
    return int(out.split("PK")[1].split()[0])


def test_changelist_respects_filters_and_search(pages, live_env):
    open_task = task_pk(live_env, "demo", title="Filtered open task")
    page = pages("admin", "/admin/board/task/?done__exact=0&q=Filtered")
    live(page)
    expect(row(page, open_task)).to_have_count(1)

    # Done: no longer matches ?done__exact=0 (marked, not struck as deleted).
    shell(live_env, f"t = Task.objects.get(pk={open_task}); t.done = True; t.save()")
    expect(row(page, open_task)).to_have_class(re.compile("djira-live-gone"))
    # Created outside the filters or the search: not announced. Matching both: announced.
    task_pk(live_env, "demo", title="Filtered but done", done=True)
    task_pk(live_env, "demo", title="Another open task")
    task_pk(live_env, "demo", title="Filtered and open")
    expect(page.locator(".djira-live-new")).to_have_text("1 new — show")
    # Back to open: the row matches again and shows its new values.
    shell(live_env, f"t = Task.objects.get(pk={open_task}); t.done = False; t.save()")
    expect(row(page, open_task)).not_to_have_class(re.compile("djira-live-gone"))
    expect(page.locator(".djira-live-new")).to_have_text("1 new — show")


def test_user_without_view_permission_gets_nothing(pages, live_app):
    page = pages("clerk", "/admin/board/task/")
    expect(page.locator("h1")).to_contain_text("403")
    # Asking the rows directly, or for a row, is refused the same way.
    response = page.request.get(f"{live_app.url}/admin/board/task/djira-live/rows/?_djira_pks=1")
    assert response.status == 403


def test_change_form_presence_banner_and_conflict(pages, live_env):
    pk = task_pk(live_env, "sam", title="Edited by two")
    url = f"/admin/board/task/{pk}/change/"
    boss = pages("admin", url)
    sam = pages("sam", url)
    live(boss)
    live(sam)
    # Each sees the other.
    expect(boss.locator(".djira-live-presence")).to_have_text("Also open by sam")
    expect(sam.locator(".djira-live-presence")).to_have_text("Also open by admin")

    # A shell saves the title: both forms say so.
    shell(live_env, f"t = Task.objects.get(pk={pk}); t.title = 'Saved by a shell'; t.save()")
    for page in (boss, sam):
        expect(page.locator(".djira-live-banner")).to_be_visible()
        expect(page.locator(".djira-live-banner-text")).to_contain_text("Someone else saved")

    # The superuser saves his stale form: asked first, with the title now in the database.
    boss.fill("#id_priority", "0") if boss.locator(
        "input#id_priority"
    ).count() else boss.select_option("#id_priority", "0")
    boss.click("input[name=_save]")
    error = boss.locator(".errorlist .djira-live-conflict")
    expect(error).to_contain_text("Someone else saved this task")
    expect(boss.locator(".errorlist")).to_contain_text("Title: Saved by a shell")
    # His values are still in the form; the title field still shows what he loaded.
    expect(boss.locator("#id_title")).to_have_value("Edited by two")
    # Saving again is the confirmation.
    boss.click("input[name=_save]")
    expect(boss.locator("ul.messagelist")).to_contain_text("was changed successfully")
    out = shell(live_env, f"t = Task.objects.get(pk={pk}); print('ROW', t.title, t.priority)")
    assert "ROW Edited by two 0" in out

    # Sam leaves: the superuser's form, opened again, shows nobody else.
    sam.context.close()
    boss.goto(url)
    live(boss)
    expect(boss.locator(".djira-live-presence")).to_have_text("")


def test_saving_an_unchanged_row_needs_no_confirmation(pages, live_env):
    pk = task_pk(live_env, "demo", title="Nobody else touches this")
    page = pages("admin", f"/admin/board/task/{pk}/change/")
    page.fill("#id_title", "Touched once")
    page.click("input[name=_save]")
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_live_pages_fit_1280_px(pages, live_env, scheme):
    pk = task_pk(live_env, "sam", title="A task with a rather long title " * 4)
    for url in ("/admin/board/", "/admin/board/task/", f"/admin/board/task/{pk}/change/"):
        page = pages("admin", url)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.emulate_media(color_scheme=scheme)
        live(page)
        shell(live_env, f"t = Task.objects.get(pk={pk}); t.title = 'Short now'; t.save()")
        if "change" in url:
            expect(page.locator(".djira-live-banner")).to_be_visible()
        elif url == "/admin/board/":
            expect(card(page, "Latest tasks")).to_be_visible()
        else:
            expect(row(page, pk).locator("td.field-title")).to_have_text("Short now")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, f"{url} is {width} px wide in the {scheme} theme"
        page.screenshot(path=str(ROOT / "build" / f"live-admin-{scheme}-{len(url)}.png"))


def card(page, title: str):
    return page.locator(".djira-live-card").filter(has_text=title)


def test_index_cards_follow_changes_within_each_users_rows(pages, live_env):
    boss = pages("admin", "/admin/board/")
    sam = pages("sam", "/admin/board/")
    live(boss)
    live(sam)
    boss_open = int(card(boss, "Open tasks").locator(".djira-live-card-value").inner_text())
    sam_open = int(card(sam, "Open tasks").locator(".djira-live-card-value").inner_text())
    assert boss_open > sam_open  # sam's cards count only his own tasks, as his list does

    task_pk(live_env, "sam", title="Counted on the cards")
    expect(card(boss, "Open tasks").locator(".djira-live-card-value")).to_have_text(
        str(boss_open + 1)
    )
    expect(card(sam, "Open tasks").locator(".djira-live-card-value")).to_have_text(
        str(sam_open + 1)
    )
    expect(card(sam, "Latest tasks").locator("li").first).to_have_text("Counted on the cards")
    # Demo's new task: the superuser's card counts it; sam's does not change.
    task_pk(live_env, "demo", title="Not sam's")
    expect(card(boss, "Open tasks").locator(".djira-live-card-value")).to_have_text(
        str(boss_open + 2)
    )
    expect(card(sam, "Latest tasks").locator("li").first).to_have_text("Counted on the cards")
    expect(card(sam, "Open tasks").locator(".djira-live-card-value")).to_have_text(
        str(sam_open + 1)
    )


def test_a_user_who_may_not_view_tasks_sees_no_task_cards(pages):
    page = pages("clerk", "/admin/board/")
    expect(page.locator("#content-main")).to_contain_text("Projects")  # the board's page
    expect(page.locator("#content-main")).not_to_contain_text("Tasks")
    expect(page.locator(".djira-live-card")).to_have_count(0)


def test_two_tabs_of_one_session_are_both_live(pages, live_env):
    pk = task_pk(live_env, "demo", title="Seen in two tabs")
    first = pages("admin", "/admin/board/task/")
    second = first.context.new_page()
    second.goto("/admin/board/task/")
    live(first)
    live(second)
    shell(live_env, f"t = Task.objects.get(pk={pk}); t.title = 'Both tabs'; t.save()")
    for page in (first, second):
        expect(row(page, pk).locator("th.field-title, td.field-title")).to_have_text("Both tabs")


def test_a_save_in_the_admin_reaches_another_users_changelist(pages, live_env):
    pk = task_pk(live_env, "sam", title="Edited in the admin")
    sam = pages("sam", "/admin/board/task/")
    live(sam)
    boss = pages("admin", f"/admin/board/task/{pk}/change/")
    boss.fill("#id_title", "Renamed by the superuser")
    boss.click("input[name=_save]")
    expect(boss.locator("ul.messagelist")).to_contain_text("was changed successfully")
    expect(row(sam, pk).locator("td.field-title")).to_have_text("Renamed by the superuser")
