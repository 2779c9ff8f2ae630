"""Middleware in the get_response style: change the scope, reject, short-circuit, wrap replies."""

from __future__ import annotations

import pytest

from djira.middleware import build_chain
from djira.response import Response
from djira.scope import Scope

pytestmark = pytest.mark.usefixtures("db_")


async def test_middleware_changes_scope(connect):
    client = await connect()
    reply = await client.request(
        "books", namespace="echo-both", action="POST", headers={"x-tag": "t1"}
    )
    assert reply["data"]["tag"] == "t1"


async def test_middleware_rejects_request(connect):
    client = await connect()
    reply = await client.request("books", namespace="count", headers={"x-reject": "1"})
    assert reply["status"] == 403 and reply["data"]["detail"] == "Rejected by middleware."


async def test_middleware_short_circuits(connect):
    client = await connect()
    reply = await client.request("books", namespace="count", headers={"x-short-circuit": "1"})
    assert (reply["status"], reply["data"]) == (202, {"short": True})


async def test_middleware_changes_reply(connect):
    client = await connect()
    reply = await client.request("books", namespace="count", headers={"x-wrap": "1"})
    assert reply["data"] == {"wrapped": {"count": 0}}


async def test_sync_middleware_in_seed_style_runs_in_order():
    calls: list[str] = []

    class SeedStyle:
        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, scope):
            calls.append("sync")
            scope.business = "acme"
            return self.get_response(scope)

    class Async:
        def __init__(self, get_response):
            self.get_response = get_response

        async def __call__(self, scope):
            calls.append("async")
            return await self.get_response(scope)

    async def inner(scope):
        return Response({"business": scope.business})

    handler = build_chain([SeedStyle, Async], inner)
    response = await handler(Scope(sid="s", event="e"))
    assert calls == ["sync", "async"]
    assert response.data == {"business": "acme"}
