"""The console on a 1280-px laptop screen, light and dark: fit, contrast, axes, sessions."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from e2e.conftest import login

WIDTH = 1280
PAGES = {
    "hooks": "/admin/djira/hook/",
    "connections": "/admin/djira/connection/",
    "rooms": "/admin/djira/room/",
    "traffic": "/admin/djira/traffic/",
    "inspector": "/admin/djira/inspector/",
}

# WCAG 2.x contrast of an element's text against what is painted behind it: the colours
# come from getComputedStyle, translucent backgrounds composited up the ancestors.
CONTRAST = """(element) => {
  const parse = (value) => {
    const match = /rgba?\\(([^)]+)\\)/.exec(value);
    if (!match) return null;
    const [r, g, b, a = 1] = match[1].split(/[\\s,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const over = (top, below) => ({
    r: top.r * top.a + below.r * (1 - top.a),
    g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a),
    a: 1,
  });
  const layers = [];
  for (let node = element; node; node = node.parentElement) {
    const background = parse(getComputedStyle(node).backgroundColor);
    if (background && background.a > 0) {
      layers.push(background);
      if (background.a >= 1) break;
    }
  }
  let behind = { r: 255, g: 255, b: 255, a: 1 };
  for (const layer of layers.reverse()) behind = over(layer, behind);
  const text = over(parse(getComputedStyle(element).color), behind);
  const luminance = ({ r, g, b }) => {
    const [R, G, B] = [r, g, b].map((c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const [light, dark] = [luminance(text), luminance(behind)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}"""

# Elements whose text must be readable, per page (each must be on the page).
KEY_TEXT = {
    "hooks": [".djira-tabs a", ".djira-hook h2", ".djira-table th[scope=row]", ".djira-verb"],
    "connections": [".djira-count", ".djira-connection td", ".djira-connection a code"],
    "rooms": [".djira-room td", ".djira-room code"],
    "traffic": [".djira-chart figcaption", ".djira-axis text", ".djira-traffic td"],
    "inspector": [
        "#djira-state",
        "#djira-status",
        "#djira-rtt",
        ".djira-history-item .djira-status",
    ],
}


@pytest.fixture(params=["light", "dark"])
def scheme(request):
    return request.param


@pytest.fixture
def console(browser, example_server, scheme):
    """An admin's page at 1280 px in ``scheme``, with the admin's theme left on "auto"."""
    context = browser.new_context(
        base_url=example_server.url,
        viewport={"width": WIDTH, "height": 800},
        color_scheme=scheme,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    expect(page.locator("#content-main")).to_be_visible()
    yield page
    context.close()


@pytest.fixture
def busy_client(sio_client):
    """A client in long-named rooms."""
    client = sio_client("demo")
    for hook in ("tasks", "projects"):
        reply = client.call(hook, {"namespace": "subscribe", "action": "SUBSCRIPTION"})
        assert reply["status"] == 200, reply
    return client


def make_traffic(client) -> None:
    """Long values in the traffic log (kept in full while a console page watches)."""
    client.call("tasks", {"requestId": "list-" + uuid.uuid4().hex * 2})
    client.call("tasks", {"namespace": "a-namespace-nobody-declared-" + "x" * 30})


def fits(page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide at {WIDTH} px"


def readable(page, selector: str) -> None:
    elements = page.locator(selector)
    expect(elements.first).to_be_visible()
    for index in range(min(elements.count(), 5)):
        ratio = elements.nth(index).evaluate(CONTRAST)
        text = (elements.nth(index).text_content() or "")[:40]
        assert ratio >= 4.5, f"{selector} ({text!r}) has contrast {ratio:.2f}:1, below 4.5:1"


def open_page(page, name: str, client) -> None:
    page.goto(PAGES[name])
    expect(page.locator("#djira-script-notice")).to_be_hidden()
    if name == "connections":
        expect(page.locator(f'tr[data-sid="{client.sid}"]')).to_be_visible()
    elif name == "rooms":
        expect(page.locator(".djira-room").first).to_be_visible()
    elif name == "traffic":
        make_traffic(client)
        expect(page.locator(".djira-traffic tr.djira-row", has_text="list-").first).to_be_visible()
    elif name == "inspector":
        expect(page.locator("#djira-state")).to_have_text("connected")
        page.select_option("#djira-req-hook", "tasks")
        page.click("#djira-send")  # a 200 in the reply and the history
        page.select_option("#djira-action", "POST")
        page.click("#djira-send")  # a 400: no title
        expect(page.locator(".djira-history-item")).to_have_count(2)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_fits_1280_px_and_its_text_is_readable(console, busy_client, name):
    open_page(console, name, busy_client)
    fits(console)
    for selector in KEY_TEXT[name]:
        readable(console, selector)


def test_a_connection_page_fits_with_long_rooms(console, busy_client):
    console.goto(f"/admin/djira/connection/{busy_client.sid}/")
    expect(console.locator(".djira-connection-detail")).to_contain_text("demo")
    make_traffic(busy_client)
    expect(console.locator(".djira-traffic tr.djira-row").first).to_be_visible()
    fits(console)


def test_long_values_are_whole_on_hover(console, busy_client):
    console.goto(PAGES["connections"])
    row = console.locator(f'tr[data-sid="{busy_client.sid}"]')
    room = row.locator(".djira-rooms-cell code", has_text="task_changes")
    expect(room).to_have_attribute(
        "title", re.compile(r"^djira:tasks:subscribe:.*task_changes:owner__\d+$")
    )
    console.goto(PAGES["traffic"])
    make_traffic(busy_client)
    cell = console.locator(".djira-traffic td.djira-clip[title^='list-']").first
    expect(cell).to_have_attribute("title", re.compile(r"^list-[0-9a-f]{64}$"))


def test_the_traffic_chart_has_time_and_count_axes(console):
    console.goto(PAGES["traffic"])
    chart = console.locator("#djira-stats svg")
    expect(chart.locator(".djira-axis-x text").last).to_have_text("now")
    expect(chart.locator(".djira-axis-x text").first).to_have_text(re.compile(r"^-\d+ s$"))
    expect(chart.locator(".djira-axis-y text").first).to_have_text("0")
    expect(chart.locator(".djira-axis-title")).to_have_count(2)


@pytest.mark.parametrize("path", ["/admin/djira/traffic/", "/admin/djira/room/?q=owner"])
def test_signing_out_and_in_again_returns_to_the_page(admin_page, path):
    page = admin_page
    page.goto(path)
    other = page.context.new_page()
    other.goto("/admin/")
    other.click("#logout-form button")
    expect(other).to_have_url(re.compile(r"/login/$"))  # signed out; closed with the context
    # The next poll of a live part sends the whole page (not the part) to the login.
    expect(page).to_have_url(re.compile(r"/admin/login/\?next="), timeout=5_000)
    expect(page.locator("table.djira-table")).to_have_count(0)
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.locator(".djira-tabs")).to_be_visible()


def test_a_page_whose_script_did_not_load_says_so(browser, example_server):
    page = login(browser, example_server, "admin", "admin")
    try:
        expect(page.locator("#content-main")).to_be_visible()
        page.route(re.compile(r"/static/djira/js/admin\.js"), lambda route: route.abort())
        page.goto(PAGES["connections"])
        expect(page.locator("#djira-script-notice")).to_be_visible()
        expect(page.locator("#djira-script-notice")).to_contain_text("did not load")
    finally:
        page.context.close()


def test_the_inspector_resets_what_the_route_and_verb_do_not_take(admin_page):
    page = admin_page
    page.goto(PAGES["inspector"])
    expect(page.locator("#djira-state")).to_have_text("connected")
    page.select_option("#djira-req-hook", "articles")
    page.select_option("#djira-namespace", label="(list)")
    page.select_option("#djira-action", "POST")
    page.fill("#djira-field-title", "stale")
    expect(page.locator("#djira-data")).to_have_value(re.compile(r'"title": "stale"'))
    page.select_option("#djira-action", "GET")
    expect(page.locator("#djira-data")).to_have_value("{}")

    page.select_option("#djira-namespace", label="(detail)")
    page.fill("#djira-pk", "7")
    page.fill("#djira-query", '{"search": "x"}')
    page.select_option("#djira-namespace", label="(list)")
    expect(page.locator("#djira-pk")).to_have_value("")
    page.select_option("#djira-action", "POST")
    expect(page.locator("#djira-query")).to_have_value("{}")
