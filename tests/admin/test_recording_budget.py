"""Under load a watching page gets a bounded share of requests in full, and says so.

A real uvicorn process with ``TRAFFIC_RECORD_RATE: 2``; real Socket.IO clients; the console's
traffic partials read over HTTP, as the page polls them.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.admin.live import admin_session, eventually, get_text

pytestmark = pytest.mark.usefixtures("db_")

BURST = 30


@pytest.fixture(params=["alone", "beside_a_tracer"])
def budgeted(request, live_server_factory):
    # A server per test: the page's "Busy" count covers the last minute of its process.
    # ``beside_a_tracer``: tests/testapp/tracing.py's listener wants every request's trace
    # too; the recorder must still keep only its own choices.
    tracer = {"DJIRA_TEST_TRACE": "1"} if request.param == "beside_a_tracer" else {}
    return live_server_factory(DJIRA_TEST_RECORD_RATE="2", **tracer)


def recorded_ids(rows_html: str) -> set[str]:
    return set(re.findall(r">(burst-\d+)<", rows_html))


async def test_a_burst_past_the_budget_is_counted_and_partly_recorded(
    budgeted, connect, admin_user
):
    client = await connect(budgeted.url)
    async with await admin_session(budgeted.url, admin_user) as http:
        await get_text(http, "/admin/djira/traffic/rows/")  # a page watches from now on
        replies = await asyncio.gather(
            *(client.request("books", request_id=f"burst-{i}") for i in range(BURST))
        )
        assert all(reply["status"] == 200 for reply in replies)  # every request served
        rows = await get_text(http, "/admin/djira/traffic/rows/", hook="books")
        stats = await eventually(
            lambda: get_text(http, "/admin/djira/traffic/stats/"),
            lambda text: "djira-sampled" in text,
        )
    kept = recorded_ids(rows)
    # The bucket's burst (2) plus what refilled while the burst ran: far fewer than 30.
    assert 2 <= len(kept) < BURST // 2, kept
    # What was kept was kept in full: both rows and a trace for each recorded request.
    for request_id in kept:
        row_tags = re.findall(rf"<tr [^>]*>(?:(?!</tr>).)*>{request_id}<", rows, re.S)
        assert len(row_tags) == 2 and all("djira-has-trace" in t for t in row_tags), request_id
    left_out = int(re.search(r"Busy: (\d+) request", stats).group(1))
    assert left_out == BURST - len(kept)
    # Counters saw every request, recorded or not.
    assert re.search(rf"<td>books</td><td></td><td>GET</td><td>{BURST}</td>", stats), stats


async def test_failures_past_the_budget_are_found_by_the_status_filter(
    budgeted, connect, admin_user
):
    client = await connect(budgeted.url)
    async with await admin_session(budgeted.url, admin_user) as http:
        await get_text(http, "/admin/djira/traffic/rows/")
        # Spend the budget, then fail a burst: no such book.
        await asyncio.gather(*(client.request("books") for _ in range(BURST)))
        failed = await asyncio.gather(
            *(client.request("books", pk=999_999, request_id=f"miss-{i}") for i in range(BURST))
        )
        assert all(reply["status"] == 404 for reply in failed)
        rows = await get_text(http, "/admin/djira/traffic/rows/", hook="books", status="4xx")
    kept = set(re.findall(r">(miss-\d+)<", rows))
    # Their own budget (2, plus what refilled meanwhile): some, not all, and none traced.
    assert 2 <= len(kept) < BURST // 2, kept
    misses = re.findall(r"<tr [^>]*>(?:(?!</tr>).)*>miss-\d+<", rows, re.S)
    assert misses and not any("djira-has-trace" in row for row in misses)
