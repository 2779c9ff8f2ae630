"""A request's trace in the console: opened from its traffic row, with its SQL and pushes.

Real uvicorn processes (tests/asgi.py, and two of tests/observers/asgi.py sharing a real
redis-server for the cross-process case); the admin views run inside them.
"""

from __future__ import annotations

import html
import re

import pytest

from djira.admin.recorder import TrafficRecorder, redact_event
from djira.admin.redaction import REDACTED
from djira.lifecycle import Monitor
from djira.trace import Trace
from tests.admin.live import admin_session, eventually, get_text
from tests.observers.conftest import on, start_observed_server, subscribe

pytestmark = pytest.mark.usefixtures("db_")

TRACE_ROW = re.compile(r'data-trace="([0-9a-f]+-[0-9]+)"[^>]*>')


def trace_id_of(rows_html: str, request_id: str) -> str | None:
    """The trace id of the traffic row (``in``/``out``) of request ``request_id``."""
    for row in re.findall(r"<tr [^>]*djira-has-trace[^>]*>.*?</tr>", rows_html, re.S):
        if f">{request_id}<" in row:
            found = TRACE_ROW.search(row)
            return found.group(1) if found else None
    return None


async def traced_create(http, writer, title: str, request_id: str) -> str:
    """Create a book while the traffic page watches; the trace panel's HTML."""
    await get_text(http, "/admin/djira/traffic/rows/")  # a page watches from now on
    reply = await writer.request(
        "observed", action="POST", data={"title": title, "year": 1999}, request_id=request_id
    )
    assert reply["status"] == 201, reply
    rows = await eventually(
        lambda: get_text(http, "/admin/djira/traffic/rows/", hook="observed"),
        lambda text: trace_id_of(text, request_id) is not None,
    )
    trace_id = trace_id_of(rows, request_id)
    return await get_text(http, f"/admin/djira/traffic/trace/{trace_id}/")


async def test_a_traffic_rows_trace_has_its_sql_reply_and_push(server, connect, admin_user):
    watcher, writer = await connect(), await connect()
    await subscribe(watcher)
    async with await admin_session(server.url, admin_user) as http:
        panel = await traced_create(http, writer, "Secret Garden", "r-traced")
        await watcher.receive("observed", match=on("subscribe", type="create"))
        # The push's delivery is reported once the outbox has emitted it.
        panel = await eventually(
            lambda: get_text(http, panel_url(panel)),
            lambda text: "djira-recipients" in text,
        )
    text = html.unescape(panel)
    assert "Trace of observed" in text and ">201<" in text
    assert re.search(r"[1-9]\d* SQL quer(y|ies)", text)
    assert "INSERT INTO" in text and "testapp_book" in text
    # Parameters are hidden: the title never reaches the page.
    assert "Secret Garden" not in text and REDACTED in text
    assert "permission" in text and "middleware" in text and ">reply<" in text
    assert re.search(r"[1-9]\d* push(es)? sent", text)  # one per observer and room
    assert "room=book," in text or "room=book<" in text
    recipients = re.findall(r'class="djira-recipients">(\d+)<', panel)
    assert recipients == ["1"]  # the watcher's socket, in the room "book"


def panel_url(panel: str) -> str:
    trace_id = re.search(r'data-trace="([^"]+)"', panel)
    assert trace_id, panel[:2000]
    return f"/admin/djira/traffic/trace/{trace_id.group(1)}/"


async def test_an_unknown_trace_says_so(server, admin_user):
    async with await admin_session(server.url, admin_user) as http:
        # The panel a row opens (htmx) says so in place.
        async with http.get(
            "/admin/djira/traffic/trace/ffff-1/", headers={"HX-Request": "true"}
        ) as response:
            assert response.status == 200
            assert "No trace ffff-1" in await response.text()
        # Opened on its own: a console page that says so, with a 404.
        async with http.get("/admin/djira/traffic/trace/ffff-1/") as response:
            assert response.status == 404
            assert "No trace ffff-1" in await response.text()
        async with http.get("/admin/djira/traffic/trace/not-a-trace/") as response:
            assert response.status == 404


async def test_the_trace_panel_needs_the_console_permission(server, connect, staff_without_perms):
    async with (
        await admin_session(server.url, staff_without_perms) as http,
        http.get("/admin/djira/traffic/trace/ffff-1/") as response,
    ):
        assert response.status == 403


@pytest.fixture(scope="module")
def two_processes(live_server_factory, redis_server):
    """Two servers sharing a redis-server, quick heartbeats (stopped before the database)."""
    env = {"DJIRA_REDIS_URL": redis_server.url}
    servers = [start_observed_server(**env), start_observed_server(**env)]
    yield servers
    for one in servers:
        one.stop()


@pytest.fixture(scope="module")
def redis_server():
    from tests.observers.conftest import RedisProcess

    redis = RedisProcess().start()
    yield redis
    redis.stop()


async def test_pushes_delivered_by_another_process_join_the_trace(
    two_processes, connect, admin_user
):
    first, second = two_processes
    watcher = await connect(second.url)
    writer = await connect(first.url)
    await subscribe(watcher)
    async with await admin_session(first.url, admin_user) as http:
        # The second process records once its heartbeat sees that a page watches: its
        # traffic rows then reach the first process's page.
        async def ping_rows() -> str:
            await watcher.request("observed", request_id="r-ping")
            return await get_text(http, "/admin/djira/traffic/rows/", sid=watcher.sid)

        await eventually(ping_rows, lambda text: ">r-ping<" in text, within=15)
        panel = await traced_create(http, writer, "Across", "r-across")
        await watcher.receive("observed", match=on("subscribe", type="create"))
        # The second process reports its delivery in its next heartbeat.
        panel = await eventually(
            lambda: get_text(http, panel_url(panel)),
            lambda text: "djira-recipients" in text,
            within=15,
        )
    assert re.findall(r'class="djira-recipients">(\d+)<', panel) == ["1"]
    assert watcher.sid not in panel  # rooms and counts, never the members


# -- without a server ------------------------------------------------------------------


def test_nobody_watching_means_no_trace_is_asked_for():
    recorder = TrafficRecorder(size=10)
    monitor = Monitor(listeners=[recorder])
    assert not monitor.wants_traces
    recorder.watch(10)
    assert monitor.wants_traces


def test_traces_and_deliveries_are_bounded(settings):
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "TRACE_BUFFER_SIZE": 3}
    recorder = TrafficRecorder(size=10)
    recorder.watch(10)
    for i in range(5):
        recorder.push_delivered(f"t-{i}", "observed", "book", i)
    assert list(recorder.deliveries) == ["t-2", "t-3", "t-4"]


def test_query_parameters_are_hidden_and_statements_kept():
    trace = Trace()
    trace.add("sql", sql="SELECT 1 WHERE a = %s", params=["hunter2", 3], ms=0.1, error=None)
    trace.add("permission", check="has_permission", granted=True, permission="AllowAny")
    from djira.admin.redaction import redact_keys

    sql, permission = (redact_event(e, redact_keys()) for e in trace.as_dict()["events"])
    assert sql["params"] == [REDACTED, REDACTED] and sql["sql"] == "SELECT 1 WHERE a = %s"
    assert permission["granted"] is True
