"""Traces: the story of one request, recorded only while a listener wants it."""

from __future__ import annotations

import pytest

from djira.lifecycle import Monitor
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")


@pytest.fixture(scope="module")
def traced_server(live_server_factory):
    return live_server_factory(DJIRA_TEST_TRACE="1")


async def trace_of(client, request_id):
    reply = await client.request("traces", namespace="last", query={"requestId": request_id})
    (trace,) = reply["data"]
    return trace


async def test_a_trace_tells_middleware_permissions_sql_and_reply(traced_server, connect, token):
    book = await Book.objects.acreate(title="traced")
    client = await connect(traced_server.url, token=token)
    reply = await client.request("books", pk=book.pk, request_id="r-trace")
    assert reply["status"] == 200
    trace = await trace_of(client, "r-trace")
    kinds = [event["kind"] for event in trace["events"]]
    assert kinds[0] == "middleware" and kinds[-1] == "reply"
    assert "permission" in kinds and "sql" in kinds
    sql = [e for e in trace["events"] if e["kind"] == "sql"]
    assert trace["sql"]["count"] == len(sql) >= 1
    assert any("testapp_book" in e["sql"] for e in sql)
    assert all("traced" not in e["sql"] for e in sql)  # parameters stay apart
    (reply_event,) = [e for e in trace["events"] if e["kind"] == "reply"]
    assert reply_event["status"] == 200
    times = [e["at_ms"] for e in trace["events"]]
    assert times == sorted(times)


async def test_a_refusal_is_in_the_trace(traced_server, connect):
    client = await connect(traced_server.url)
    reply = await client.request("books", namespace="admin_only", request_id="r-denied")
    assert reply["status"] == 401
    trace = await trace_of(client, "r-denied")
    (decision,) = [e for e in trace["events"] if e["kind"] == "permission"]
    assert decision == {**decision, "granted": False, "permission": "IsAdminUser"}


def test_no_listener_wanting_traces_means_no_trace():
    class Quiet:
        wants_traces = False

    assert not Monitor(listeners=[]).wants_traces
    assert not Monitor(listeners=[Quiet()]).wants_traces  # type: ignore[list-item]
