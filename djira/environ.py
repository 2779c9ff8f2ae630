"""The WSGI-style environ python-engineio reads each ASGI request through.

python-engineio's ASGI driver builds it in ``translate_request``, and defines a new class
for every request there (the reader of its body, ``wsgi.input``). A class is a reference
cycle: every handshake and every long-polling request left one (13 objects) for the cyclic
garbage collector, whose collections pause every connection of the process
(docs/performance.md). ``translate_request`` here builds the same environ, key for key,
with one class for all requests; ``djira.engine.DjiraEngineServer`` puts it in
python-engineio's place, and ``tests/test_environ.py`` compares the two.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]


class RequestBody:
    """``wsgi.input``: the request's body, read from ASGI ``receive`` on first ``read``.

    As python-engineio's own: ``read(length)`` returns at most ``length`` bytes and keeps
    the rest for the next read; ``read()`` returns all that is left. A websocket
    connection has no body (``b""``).
    """

    __slots__ = ("_event", "_receive", "_payload")

    def __init__(self, event: dict[str, Any], receive: Receive) -> None:
        self._event = event
        self._receive: Receive | None = receive
        self._payload: bytes | None = None

    async def read(self, length: int | None = None) -> bytes:
        if self._payload is None:
            self._payload = await self._read_body(length)
        payload = self._payload
        if length is None:
            self._payload = b""
            return payload
        self._payload = payload[length:]
        return payload[:length]

    async def _read_body(self, length: int | None) -> bytes:
        event, receive = self._event, self._receive
        self._receive = None  # read once: the reader holds the server's receive no longer
        if event["type"] != "http.request" or receive is None:
            return b""
        payload = event.get("body") or b""
        while event.get("more_body"):
            event = await receive()
            # Past ``length`` the rest is read but not kept, as python-engineio does.
            if event["type"] == "http.request" and (length is None or len(payload) < length):
                payload += event.get("body") or b""
        return payload


async def translate_request(scope: dict[str, Any], receive: Receive, send: Any) -> dict[str, Any]:
    """The environ of an ASGI ``http`` or ``websocket`` request; ``{}`` for any other event."""
    event = await receive()
    if event["type"] not in ("http.request", "websocket.connect"):
        return {}
    path = scope["path"]
    query_string = ""
    raw_uri = path
    if scope.get("query_string"):
        try:
            query_string = scope["query_string"].decode("utf-8")
        except UnicodeDecodeError:
            pass  # dropped, as python-engineio does
        else:
            raw_uri += "?" + query_string
    environ: dict[str, Any] = {
        "wsgi.input": RequestBody(event, receive),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.async": True,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "asgi",
        "REQUEST_METHOD": scope.get("method", "GET"),
        "PATH_INFO": path,
        "QUERY_STRING": query_string,
        "RAW_URI": raw_uri,
        "SCRIPT_NAME": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        # python-engineio's values; djira.consumer names the real peer on connect.
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "0",
        "SERVER_NAME": "asgi",
        "SERVER_PORT": "0",
        "asgi.receive": receive,
        "asgi.send": send,
        "asgi.scope": scope,
    }
    for raw_name, raw_value in scope["headers"]:
        try:
            name = raw_name.upper().decode("utf-8")
            value = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            continue  # skipped, as python-engineio does
        if name == "CONTENT-TYPE":
            environ["CONTENT_TYPE"] = value
        elif name == "CONTENT-LENGTH":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.replace("-", "_")
            # A repeated header is joined with commas, as WSGI servers do.
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ["wsgi.url_scheme"] = environ.get("HTTP_X_FORWARDED_PROTO", "http")
    return environ
