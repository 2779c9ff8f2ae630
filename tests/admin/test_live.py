"""The console against a real server process: live connections, traffic, rooms, disconnect.

The admin views run inside the uvicorn subprocess (tests/asgi.py), beside the Socket.IO
server whose state they show, exactly as in production.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.admin.models import DELETION, LogEntry

from tests.admin.live import eventually, get_text, session_cookie

pytestmark = pytest.mark.usefixtures("db_")


@pytest.fixture
async def admin_http(server, admin_user):
    """An HTTP session logged in to the live server's admin as a superuser."""
    cookie = await sync_to_async(session_cookie)(admin_user)
    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: cookies for an IP-address host
    async with aiohttp.ClientSession(server.url, cookie_jar=jar) as http:
        jar.update_cookies({settings.SESSION_COOKIE_NAME: cookie})
        yield http


async def test_connections_show_a_client_then_forget_it(admin_http, connect, token):
    client = await connect(token=token)
    sid = client.sid
    rows = lambda: get_text(admin_http, "/admin/djira/connection/rows/")  # noqa: E731
    html = await eventually(rows, lambda text: sid in text)
    row = html[html.index(f'data-sid="{sid}"') :]
    row = row[: row.index("</tr>")]
    assert "alice" in row and "websocket" in row and "127.0.0.1:" in row
    for _ in range(3):
        assert (await client.request("books"))["status"] == 200
    detail = await get_text(admin_http, f"/admin/djira/connection/{sid}/")
    assert re.search(r'<th scope="row">Requests</th><td>3</td>', detail), detail
    await client.disconnect()
    await eventually(rows, lambda text: sid not in text)


async def test_connection_search_filters_on_the_server(admin_http, connect, token):
    client = await connect(token=token)
    found = await get_text(admin_http, "/admin/djira/connection/rows/", q=client.sid)
    assert client.sid in found
    missing = await get_text(admin_http, "/admin/djira/connection/rows/", q="no-such-client")
    assert client.sid not in missing


async def test_traffic_shows_requests_with_secrets_redacted(admin_http, connect, token):
    await get_text(admin_http, "/admin/djira/traffic/")  # the page is open: record rows
    client = await connect(token=token)
    reply = await client.request(
        "books",
        namespace="echo-both",
        action="POST",
        data={"password": "hunter2-live", "n": 1},
        request_id="live-1",
    )
    assert reply["status"] == 201
    html = await eventually(
        lambda: get_text(admin_http, "/admin/djira/traffic/rows/", sid=client.sid),
        lambda text: "live-1" in text and "djira-dir-out" in text,
    )
    assert "echo-both" in html
    assert "hunter2-live" not in html
    assert "********" in html


async def test_traffic_filters_by_hook_and_status(admin_http, connect, token):
    await get_text(admin_http, "/admin/djira/traffic/")
    client = await connect(token=token)
    await client.request("tools", namespace="route", request_id="ok-1")
    await client.request("tools", namespace="missing", request_id="bad-1")
    rows = lambda **q: get_text(admin_http, "/admin/djira/traffic/rows/", sid=client.sid, **q)  # noqa: E731
    errors = await eventually(lambda: rows(status="4xx"), lambda text: "bad-1" in text)
    assert "ok-1" not in errors
    books = await rows(hook="books")
    assert "ok-1" not in books and "bad-1" not in books


async def test_stats_count_requests_per_route(admin_http, connect, token):
    client = await connect(token=token)
    await client.request("tools", namespace="route", action="POST")
    html = await get_text(admin_http, "/admin/djira/traffic/stats/")
    assert re.search(r"<td>tools</td><td>route</td><td>POST</td><td>\d+</td>", html)
    assert "<svg" in html


async def test_rooms_list_subscribers(admin_http, connect, token):
    client = await connect(token=token)
    reply = await client.request("observed", namespace="subscribe", action="SUBSCRIPTION")
    assert reply["status"] == 200
    html = await eventually(
        lambda: get_text(admin_http, "/admin/djira/room/rows/"), lambda text: client.sid in text
    )
    room = html[: html.index(client.sid)]
    name = room[room.rindex('data-room="') :]
    # djira:<hook>:<route>:<observer uid>:<room>
    assert name.startswith('data-room="djira:observed:subscribe:')
    assert 'tests.testapp.observed.ObservedBookHook.books:book"' in name


async def test_detail_page_redacts_handshake_headers(admin_http, connect, token):
    client = await connect(
        token=token, headers={"X-Api-Secret": "s3cr3t-value", "X-Tag": "visible"}
    )
    html = await get_text(admin_http, f"/admin/djira/connection/{client.sid}/")
    assert "visible" in html
    assert "s3cr3t-value" not in html
    assert "Disconnect this client" in html


async def test_disconnect_from_the_admin_drops_the_client_and_logs_it(
    admin_http, connect, token, admin_user
):
    client = await connect(token=token)
    sid = client.sid
    page = await get_text(admin_http, f"/admin/djira/connection/{sid}/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    async with admin_http.post(
        f"/admin/djira/connection/{sid}/disconnect/",
        data={"csrfmiddlewaretoken": csrf},
        allow_redirects=False,
    ) as response:
        assert response.status == 302
        assert response.headers["Location"].endswith("/admin/djira/connection/")
    await eventually(
        lambda: asyncio.sleep(0, result=str(client.client.connected)), lambda v: v == "False"
    )
    entry = await LogEntry.objects.aget(object_id=sid)
    assert entry.action_flag == DELETION and entry.user_id == admin_user.pk


async def test_disconnect_without_csrf_token_is_refused(admin_http, connect, token):
    client = await connect(token=token)
    async with admin_http.post(
        f"/admin/djira/connection/{client.sid}/disconnect/", allow_redirects=False
    ) as response:
        assert response.status == 403
    assert client.client.connected


async def test_pushes_appear_in_the_traffic_log(admin_http, connect, token):
    await get_text(admin_http, "/admin/djira/traffic/")
    client = await connect(token=token)
    await client.request("observed", namespace="subscribe", action="SUBSCRIPTION")
    reply = await client.request(
        "observed", action="POST", data={"title": "pushed-live", "year": 1}
    )
    assert reply["status"] == 201
    html = await eventually(
        lambda: get_text(admin_http, "/admin/djira/traffic/rows/", direction="push"),
        lambda text: "pushed-live" in text,
    )
    assert "djira-dir-push" in html and "&rarr; book" in html
