"""Secrets in any spelling never reach the console, over a real server (issue 17).

A python-socketio ``AsyncClient`` (through ``SocketCommunicator``) connects to a uvicorn
process with secrets in its connect URL and handshake headers, then sends them as request
headers, data at depth and query, each key spelled several ways; the traffic rows, the
Traffic page and the connection page, as the server renders them, show none of them.
"""

from __future__ import annotations

import pytest

from djira.admin.redaction import REDACTED
from tests.admin.live import admin_session, eventually, get_text

pytestmark = pytest.mark.usefixtures("db_")

SPELLINGS = ["X-Api-Key", "x_api_key", "apiKey", "API-KEY", "api-key", "X-Private-Key"]
SPELLINGS += ["private-key", "privateKey"]


def secret(place: str, i: int) -> str:
    return f"leak-{place}-{i}-zq"


@pytest.fixture
async def admin_http(server, admin_user):
    http = await admin_session(server.url, admin_user)
    yield http
    await http.close()


async def test_no_spelling_of_a_secret_reaches_a_page(admin_http, connect, server, token):
    await get_text(admin_http, "/admin/djira/traffic/")  # the page is open: record rows
    url_query = "&".join(f"{key}={secret('url', i)}" for i, key in enumerate(SPELLINGS))
    client = await connect(
        url=f"{server.url}/?{url_query}&visible=url-kept",
        token=token,
        headers={
            "X-Api-Key": secret("hs", 0),
            "Api-Key": secret("hs", 1),
            "X-Private-Key": secret("hs", 2),
            "Private-Key": secret("hs", 3),
            "Referer": f"http://app.example/page?api-key={secret('hs', 4)}&tab=referer-kept",
            "X-Tag": "header-kept",
        },
    )
    reply = await client.request(
        "books",
        namespace="echo-both",
        action="POST",
        headers={key: secret("hdr", i) for i, key in enumerate(SPELLINGS)} | {"X-T": "hdr-kept"},
        query={key: secret("query", i) for i, key in enumerate(SPELLINGS)} | {"q": "query-kept"},
        data={
            "book": {
                "shelves": [{key: secret("data", i) for i, key in enumerate(SPELLINGS)}],
                "title": "data-kept",
            }
        },
        request_id="redact-live-1",
    )
    assert reply["status"] == 201
    # The client did send them all (the echo carries the data back to it).
    assert secret("data", 0) in str(reply["data"])

    rows = await eventually(
        lambda: get_text(admin_http, "/admin/djira/traffic/rows/", sid=client.sid),
        lambda text: "redact-live-1" in text and "djira-dir-out" in text,
    )
    page = await get_text(admin_http, "/admin/djira/traffic/", sid=client.sid)
    connection = await get_text(admin_http, f"/admin/djira/connection/{client.sid}/")
    for name, html in [("rows", rows), ("traffic", page), ("connection", connection)]:
        assert "leak-" not in html, (name, html[html.index("leak-") - 300 :][:600])
        assert REDACTED in html, name
    for kept in ("hdr-kept", "query-kept", "data-kept"):
        assert kept in rows and kept in connection
    for kept in ("url-kept", "header-kept", "referer-kept"):
        assert kept in connection
    # Each spelling is masked in each place, its key kept: in the connect URL's query, and
    # in the request's headers, query and data and the reply's data (the echo).
    for key in SPELLINGS:
        assert f"{key}={REDACTED}" in connection
        assert rows.count(f"&quot;{key}&quot;: &quot;{REDACTED}&quot;") == 4, key
