"""djira.environ builds the environ python-engineio's ASGI driver would, without a class per
request: the same keys and values for the same scopes, the same body reads, no cycle left."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from engineio.async_drivers import asgi as engineio_asgi

from djira.environ import translate_request
from djira.server import create_server


def receiver(*events: dict[str, Any]):
    queue = list(events)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def http_scope(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/socket.io/",
        "query_string": b"EIO=4&transport=polling",
        "headers": [(b"host", b"example.com"), (b"user-agent", b"pytest")],
        **overrides,
    }


SCOPES = {
    "polling GET": http_scope(),
    "websocket": {
        "type": "websocket",
        "path": "/socket.io/",
        "query_string": b"EIO=4&transport=websocket&token=a%20b",
        "headers": [(b"host", b"example.com"), (b"Sec-WebSocket-Key", b"abc")],
    },
    "no query string": http_scope(query_string=b""),
    "query string not utf-8": http_scope(query_string=b"EIO=4&x=\xff"),
    "repeated header, joined": http_scope(
        headers=[(b"x-tag", b"a"), (b"x-tag", b"b"), (b"X-Tag", b"c")]
    ),
    "header not utf-8, skipped": http_scope(headers=[(b"x-bad", b"\xff"), (b"x-good", b"1")]),
    "content type and length": http_scope(
        method="POST", headers=[(b"content-type", b"text/plain"), (b"content-length", b"5")]
    ),
    "forwarded proto": http_scope(headers=[(b"x-forwarded-proto", b"https")]),
    "no method": {k: v for k, v in http_scope().items() if k != "method"},
}


def first_event(scope: dict[str, Any]) -> dict[str, Any]:
    if scope["type"] == "websocket":
        return {"type": "websocket.connect"}
    return {"type": "http.request", "body": b"", "more_body": False}


@pytest.mark.parametrize("name", SCOPES)
async def test_the_environ_is_python_engineios(name):
    scope = SCOPES[name]
    ours = await translate_request(scope, receiver(first_event(scope)), "send")
    theirs = await engineio_asgi.translate_request(scope, receiver(first_event(scope)), "send")
    assert type(ours.pop("wsgi.input")).__name__ == "RequestBody"
    theirs.pop("wsgi.input")
    receives = (ours.pop("asgi.receive"), theirs.pop("asgi.receive"))
    assert all(callable(r) for r in receives)
    assert ours == theirs


async def test_an_event_that_is_no_request_gives_an_empty_environ():
    event = {"type": "http.disconnect"}
    assert await translate_request(http_scope(), receiver(event), None) == {}
    assert await engineio_asgi.translate_request(http_scope(), receiver(event), None) == {}


BODIES = {
    "one chunk": [{"type": "http.request", "body": b"4hello"}],
    "three chunks": [
        {"type": "http.request", "body": b"40", "more_body": True},
        {"type": "http.request", "body": b"/chat,", "more_body": True},
        {"type": "http.request", "body": b"{}"},
    ],
    "no body key": [{"type": "http.request"}],
    "a disconnect between": [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.disconnect", "more_body": True},
        {"type": "http.request", "body": b"cd"},
    ],
}


@pytest.mark.parametrize("name", BODIES)
@pytest.mark.parametrize("lengths", [[None], [3, None], [2, 2, 2, 10], [100]])
async def test_the_body_reads_as_python_engineios(name, lengths):
    async def reads(translate) -> list[bytes]:
        environ = await translate(http_scope(method="POST"), receiver(*BODIES[name]), None)
        return [await environ["wsgi.input"].read(length) for length in lengths]

    assert await reads(translate_request) == await reads(engineio_asgi.translate_request)


async def test_a_request_leaves_nothing_for_the_cyclic_collector():
    """python-engineio's own left its per-request class (13 objects) on every request."""

    async def one_request(translate) -> list[Any]:
        gc.collect()
        gc.disable()
        try:
            environ = await translate(
                http_scope(method="POST"), receiver(*BODIES["three chunks"]), None
            )
            await environ["wsgi.input"].read()
            del environ
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            # Only what the two modules define: other threads may leave garbage meanwhile.
            modules = {engineio_asgi.__name__, "djira.environ"}
            return [o for o in gc.garbage if getattr(o, "__module__", None) in modules]
        finally:
            gc.garbage.clear()
            gc.set_debug(0)
            gc.enable()

    assert await one_request(translate_request) == []
    # What it replaces: the class defined for the request, and its methods.
    assert await one_request(engineio_asgi.translate_request) != []


def test_djira_s_server_reads_requests_through_it():
    sio = create_server()
    assert sio.eio._async["translate_request"] is translate_request
    # Its own server only: python-engineio's driver, shared by every server, is left as it is.
    assert engineio_asgi._async["translate_request"] is engineio_asgi.translate_request
