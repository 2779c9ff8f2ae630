"""The console on a 1280-px laptop screen, light and dark: fit, contrast, axes, sessions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from djira.testing import LiveServer
from e2e.conftest import EXAMPLE, login

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


@pytest.fixture(scope="module")
def single_server(example_env) -> Iterator[LiveServer]:
    """The example without Redis: no processes table, no process under each sid."""
    env = {**example_env, "DJIRA_REDIS_URL": ""}
    server = LiveServer("example.asgi:application", env=env, cwd=str(EXAMPLE)).start()
    yield server
    server.stop()


@pytest.fixture
def server(request, redis_server):
    """The server a console page is read from: the example with Redis (when installed), or,
    parametrized ``"no-redis"``, without (indirect parametrization)."""
    wanted = getattr(request, "param", None)
    if wanted == "no-redis":
        return request.getfixturevalue("single_server")
    if wanted == "redis" and redis_server is None:
        pytest.skip("redis-server is not installed")
    return request.getfixturevalue("example_server")


@pytest.fixture
def console(browser, server, scheme):
    """An admin's page at 1280 px in ``scheme``, with the admin's theme left on "auto"."""
    context = browser.new_context(
        base_url=server.url,
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
def busy_client(sio_client, server):
    """A client in long-named rooms."""
    client = sio_client("demo", server.url)
    for hook in ("tasks", "projects"):
        reply = client.call(hook, {"namespace": "subscribe", "action": "SUBSCRIPTION"})
        assert reply["status"] == 200, reply
    return client


def make_traffic(client) -> None:
    """Long values in the traffic log (kept in full while a console page watches)."""
    client.call("tasks", {"requestId": "list-" + uuid.uuid4().hex * 2})
    client.call("tasks", {"namespace": "a-namespace-nobody-declared-" + "x" * 30})


# Tables wider than the content column overflow it without widening the document.
OVERFLOWING = """() => {
  const main = document.getElementById("content-main").getBoundingClientRect();
  return [...document.querySelectorAll("#content-main table")]
    .filter((table) => table.checkVisibility())  // not inside a closed <details>
    .filter((table) => table.getBoundingClientRect().right > main.right + 0.5)
    .map((table) => `${table.className}: ${Math.round(table.getBoundingClientRect().right)}`
      + ` > ${Math.round(main.right)} px`);
}"""


# Single-line controls laid out side by side (same parent, on the same line) whose heights
# differ by more than 2 px: a button beside a select, a filter beside a search box.
UNEVEN = """() => {
  const single = "select:not([multiple]), button, a.button, "
    + "input:not([type=hidden]):not([type=checkbox]):not([type=radio])";
  const controls = [...document.querySelectorAll("#content-main " + single.split(", ")
    .join(", #content-main "))].filter((node) => node.checkVisibility());
  const label = (node) => `${node.tagName.toLowerCase()}${node.id ? "#" + node.id : ""}`
    + `(${(node.getAttribute("aria-label") || node.textContent || node.name || "").trim()})`;
  const uneven = [];
  for (const [i, a] of controls.entries()) {
    for (const b of controls.slice(i + 1)) {
      if (a.parentElement !== b.parentElement) continue;
      const [ra, rb] = [a.getBoundingClientRect(), b.getBoundingClientRect()];
      const sameLine = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top) > 0;
      if (sameLine && Math.abs(ra.height - rb.height) > 2) {
        uneven.push(`${label(a)} ${ra.height.toFixed(1)} px beside ${label(b)} `
          + `${rb.height.toFixed(1)} px`);
      }
    }
  }
  return uneven;
}"""


def fits(page) -> None:
    """No horizontal overflow, and controls side by side as tall as each other."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide at {WIDTH} px"
    assert page.evaluate(OVERFLOWING) == [], f"{page.url}: a table overflows the content"
    assert page.evaluate(UNEVEN) == [], f"{page.url}: controls of uneven heights side by side"


# The first five visible matches of a selector, with their contrast, read in one call: live
# parts swap their rows every second, so element handles read one by one may be gone.
CONTRASTS = f"""(selector) => {{
  const contrast = {CONTRAST};
  return [...document.querySelectorAll(selector)]
    .filter((element) => element.checkVisibility())
    .slice(0, 5)
    .map((element) => [element.textContent.trim().slice(0, 40), contrast(element)]);
}}"""


def readable(page, selector: str) -> None:
    expect(page.locator(selector).first).to_be_visible()
    for text, ratio in page.evaluate(CONTRASTS, selector):
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
@pytest.mark.parametrize("server", ["redis", "no-redis"], indirect=True)
def test_every_page_fits_1280_px_and_its_text_is_readable(console, busy_client, name):
    open_page(console, name, busy_client)
    fits(console)
    for selector in KEY_TEXT[name]:
        readable(console, selector)


@pytest.mark.parametrize("server", ["redis", "no-redis"], indirect=True)
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


# -- rough edges --------------------------------------------------------------------------


def traced_row_id(page, client) -> str:
    """Open the traffic page, make a request, and return its trace id (from its row)."""
    page.goto(PAGES["traffic"])
    request_id = "traced-" + uuid.uuid4().hex[:8]
    client.call("tasks", {"requestId": request_id})
    row = page.locator("tr.djira-dir-out.djira-has-trace", has_text=request_id)
    expect(row).to_have_count(1)
    return row.get_attribute("data-trace")


@pytest.mark.parametrize("server", ["redis", "no-redis"], indirect=True)
def test_a_trace_opened_on_its_own_is_a_console_page(console, busy_client):
    trace_id = traced_row_id(console, busy_client)
    response = console.goto(f"/admin/djira/traffic/trace/{trace_id}/")
    assert response is not None and response.status == 200
    expect(console.locator(".djira-tabs a[aria-current=page]")).to_have_text("Traffic")
    expect(console.locator(".breadcrumbs")).to_contain_text(f"Traffic › Trace {trace_id}")
    expect(console.locator("#djira-script-notice")).to_be_hidden()  # the console's script ran
    panel = console.locator("#djira-trace .djira-trace-panel")
    expect(panel).to_contain_text("Trace of tasks")
    expect(panel.locator("code.djira-sql").first).to_be_visible()
    fits(console)
    readable(console, ".djira-trace-panel h2 .djira-status")
    # Refresh swaps the panel in place; Close goes to the traffic log.
    with console.expect_response(re.compile(re.escape(f"/trace/{trace_id}/"))) as refreshed:
        panel.locator("button", has_text="Refresh").click()
    assert refreshed.value.status == 200
    expect(panel).to_contain_text("Trace of tasks")
    expect(console).to_have_url(re.compile(re.escape(trace_id) + "/$"))
    panel.locator(".djira-trace-close").click()
    expect(console).to_have_url(re.compile(r"/admin/djira/traffic/$"))


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/admin/djira/connection/nope/", "No such connection: it has disconnected"),
        ("/admin/djira/traffic/trace/ffff-1/", "No trace ffff-1"),
        ("/admin/djira/traffic/trace/nonsense/", "Not a trace id"),
    ],
)
@pytest.mark.parametrize("server", ["redis", "no-redis"], indirect=True)
def test_an_unknown_id_gets_a_console_page_that_says_so(console, path, says):
    response = console.goto(path)
    assert response is not None and response.status == 404
    expect(console.locator(".djira-tabs")).to_be_visible()
    expect(console.locator("#content-main")).to_contain_text(says)
    fits(console)


def test_a_connection_page_says_traffic_is_recorded_while_watched(console, busy_client):
    console.goto(f"/admin/djira/connection/{busy_client.sid}/")
    note = console.locator(".djira-recording-note")
    expect(note).to_contain_text("recorded only while a console page is open")
    readable(console, ".djira-recording-note")


def test_connections_say_seconds_not_zero_minutes(console, busy_client):
    console.goto(PAGES["connections"])
    row = console.locator(f'tr[data-sid="{busy_client.sid}"]')
    expect(row.locator("td").nth(5)).to_have_text(re.compile(r"^\d+ s ago$"))


def test_a_disconnect_row_says_how_long_the_connection_lasted(console, sio_client, server):
    console.goto(PAGES["traffic"])
    expect(console.locator("#djira-script-notice")).to_be_hidden()
    client = sio_client("demo", server.url)
    sid = client.sid
    client.disconnect()
    row = console.locator(f'tr.djira-dir-disconnect:has(td[title="{sid}"])')
    expect(row.locator("td").nth(3)).to_have_text(re.compile(r"^lasted \d+(\.\d)? s$"))
    expect(row.locator("td").nth(6)).to_have_text("")  # the ms column is a request's


def heights(page, *selectors: str) -> list[float]:
    return [page.locator(s).first.bounding_box()["height"] for s in selectors]


def test_controls_side_by_side_are_as_tall_as_each_other(console):
    console.goto(PAGES["traffic"])
    select, pause, clear = heights(
        console, "#djira-traffic-filters select", "#djira-pause", "#djira-clear"
    )
    assert abs(pause - select) <= 2 and abs(clear - select) <= 2, (select, pause, clear)
    console.goto(PAGES["inspector"])
    expect(console.locator("#djira-state")).to_have_text("connected")
    send, copy_js, copy_py = heights(console, "#djira-send", "#djira-copy-js", "#djira-copy-py")
    assert abs(copy_js - send) <= 1 and abs(copy_py - send) <= 1, (send, copy_js, copy_py)


# The vertical middle of a label's text and of its control (single-line controls).
MIDDLES = """(row) => {
  const middle = (node) => { const r = node.getBoundingClientRect(); return r.top + r.height / 2; };
  const range = document.createRange();
  range.selectNodeContents(row.querySelector("label"));
  const text = range.getBoundingClientRect();
  return [text.top + text.height / 2, middle(row.querySelector("select, input"))];
}"""

# Whether an input shows its whole placeholder.
PLACEHOLDER_FITS = """(input) => {
  const style = getComputedStyle(input);
  const context = document.createElement("canvas").getContext("2d");
  context.font = style.font;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return context.measureText(input.placeholder).width <= room;
}"""


def test_the_inspectors_labels_sit_on_their_controls_line(console):
    console.goto(PAGES["inspector"])
    expect(console.locator("#djira-state")).to_have_text("connected")
    for control in ("#djira-req-hook", "#djira-namespace", "#djira-action", "#djira-pk"):
        row = console.locator(".form-row", has=console.locator(control))
        label, box = row.evaluate(MIDDLES)
        assert abs(label - box) <= 3, f"{control}: label middle {label:.1f}, control {box:.1f}"
    assert console.locator("#djira-pk").evaluate(PLACEHOLDER_FITS), "the pk placeholder is cut"
