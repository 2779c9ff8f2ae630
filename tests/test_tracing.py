"""OpenTelemetry spans (djira.telemetry.tracing) over a real server and a real client.

The server (tests.asgi_telemetry) runs the OpenTelemetry SDK with its in-memory exporter;
the ``spans`` hook hands back what it finished.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, start_server
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"


def telemetry_server(**settings):
    return start_server(
        "tests.asgi_telemetry:application", DJIRA_TEST_SETTINGS=json.dumps(settings)
    )


@pytest.fixture(scope="module")
def traced(live_server_factory):  # live_server_factory: the test database is set up first
    server = telemetry_server(TRACING=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def untraced(live_server_factory):
    server = telemetry_server(TRACING=False)
    yield server
    server.stop()


async def spans_of(client):
    reply = await client.request("spans", namespace="finished")
    assert reply["status"] == 200, reply
    return reply["data"]


async def request_span(client, request_id):
    (span,) = [
        s
        for s in await spans_of(client)
        if s["kind"] == "SERVER" and s["attributes"].get("djira.request_id") == request_id
    ]
    return span


async def test_a_request_span_is_named_by_hook_route_and_verb(traced, connect):
    client = await connect(traced.url)
    reply = await client.request("books", namespace="count", request_id="r-count")
    assert reply["status"] == 200
    span = await request_span(client, "r-count")
    assert span["name"] == "books/count GET"
    assert span["attributes"] == {
        **span["attributes"],
        "rpc.system": "djira",
        "rpc.service": "books",
        "rpc.method": "count",
        "djira.verb": "GET",
        "djira.status": 200,
        "djira.sid": client.sid,
    }
    assert span["attributes"]["djira.reply.size"] > 0
    assert span["attributes"]["djira.request.size"] > 0
    assert span["parent_id"] is None and span["status"] == "UNSET"


async def test_a_crud_route_is_named_by_its_method(traced, connect):
    client = await connect(traced.url)
    await client.request("books", request_id="r-list")
    assert (await request_span(client, "r-list"))["name"] == "books/list GET"


async def test_a_client_traceparent_makes_the_server_span_its_child(traced, connect):
    client = await connect(traced.url)
    payload = {"namespace": "count", "requestId": "r-child", "traceparent": TRACEPARENT}
    assert (await client.send("books", payload))["status"] == 200
    span = await request_span(client, "r-child")
    assert span["trace_id"] == CLIENT_TRACE
    assert span["parent_id"] == CLIENT_SPAN


async def test_a_malformed_traceparent_is_ignored(traced, connect):
    client = await connect(traced.url)
    payload = {"namespace": "count", "requestId": "r-bad", "traceparent": "00-nope-01"}
    assert (await client.send("books", payload))["status"] == 200
    span = await request_span(client, "r-bad")
    assert span["parent_id"] is None and span["trace_id"] != CLIENT_TRACE


async def test_payloads_are_measured_never_recorded(traced, connect):
    client = await connect(traced.url)
    secret = "s3cret-title-value"
    reply = await client.request(
        "books", query={"search": secret}, data={"title": secret}, request_id="r-secret"
    )
    assert reply["status"] == 200
    spans = await spans_of(client)
    span = await request_span(client, "r-secret")
    assert span["attributes"]["djira.request.size"] > len(secret)
    assert secret not in json.dumps(spans)


async def test_queries_are_events_without_their_parameters(traced, connect):
    await Book.objects.acreate(title="findable", author="ann")
    client = await connect(traced.url)
    reply = await client.request("books", query={"author": "ann"}, request_id="r-sql")
    assert reply["data"]["count"] == 1
    span = await request_span(client, "r-sql")
    queries = [e["attributes"] for e in span["events"] if e["name"] == "djira.sql"]
    assert any("testapp_book" in q["db.query.text"] for q in queries)
    assert all(q["djira.duration_ms"] >= 0 for q in queries)
    assert "ann" not in json.dumps(queries)
    assert span["attributes"]["djira.sql.count"] == len(queries)


async def test_a_permission_decision_is_an_event(traced, connect):
    client = await connect(traced.url)
    reply = await client.request("books", namespace="admin_only", request_id="r-denied")
    assert reply["status"] == 401
    span = await request_span(client, "r-denied")
    (event,) = [e for e in span["events"] if e["name"] == "djira.permission"]
    assert event["attributes"] == {
        "djira.permission": "IsAdminUser",
        "djira.check": "has_permission",
        "djira.granted": False,
    }
    assert span["attributes"]["djira.status"] == 401 and span["status"] == "UNSET"


async def test_a_server_error_marks_the_span(traced, connect):
    client = await connect(traced.url)
    assert (await client.request("books", namespace="boom", request_id="r-boom"))["status"] == 500
    assert (await request_span(client, "r-boom"))["status"] == "ERROR"


async def test_an_unknown_hook_has_a_bounded_name(traced, connect):
    client = await connect(traced.url)
    assert (await client.request("made-up-hook", request_id="r-unknown"))["status"] == 404
    span = await request_span(client, "r-unknown")
    assert span["name"] == "unknown GET" and "made-up-hook" not in json.dumps(span)


async def test_a_handshake_is_a_span_with_its_user(traced, connect, user, token):
    client = await connect(traced.url, token=token)
    (span,) = [
        s
        for s in await spans_of(client)
        if s["name"] == "djira connect" and s["attributes"]["djira.sid"] == client.sid
    ]
    assert span["attributes"] == {
        **span["attributes"],
        "djira.user_id": str(user.pk),
        "djira.transport": "websocket",
        "djira.status": 200,
    }


async def test_a_refused_handshake_is_a_span_with_its_status(traced, connect):
    client = await connect(traced.url)
    with pytest.raises(Exception):  # noqa: B017 - the communicator's refusal error
        await connect(traced.url, token="not-a-token")
    refused = [
        s
        for s in await spans_of(client)
        if s["name"] == "djira connect" and s["attributes"]["djira.status"] == 401
    ]
    assert refused


async def test_a_push_is_a_span_linked_to_the_request_that_caused_it(traced, connect):
    subscriber = await connect(traced.url)
    joined = await subscriber.request("observed", namespace="subscribe", action="SUBSCRIPTION")
    assert joined["status"] == 200
    writer = await connect(traced.url)
    created = await writer.request(
        "observed", action="POST", data={"title": "pushed", "author": "x"}, request_id="r-write"
    )
    assert created["status"] == 201
    push = await subscriber.receive("observed", match=lambda p: p.get("type") == "create")
    assert push["data"]["title"] == "pushed"
    span = await request_span(writer, "r-write")
    pushes = [
        s
        for s in await spans_of(writer)
        if s["kind"] == "PRODUCER"
        and {"trace_id": span["trace_id"], "span_id": span["span_id"]} in s["links"]
    ]
    (push_span,) = pushes
    assert push_span["name"] == "push observed"
    assert push_span["attributes"] == {
        **push_span["attributes"],
        "messaging.system": "socket.io",
        "messaging.destination.name": "observed",
        "djira.push.recipients": 1,
    }


async def test_nothing_is_recorded_with_tracing_off(untraced, connect):
    client = await connect(untraced.url)
    assert (await client.request("books", namespace="count"))["status"] == 200
    payload = {"namespace": "count", "traceparent": TRACEPARENT}
    assert (await client.send("books", payload))["status"] == 200
    assert await spans_of(client) == []


@pytest.fixture
def without_libraries(tmp_path):
    """A PYTHONPATH on which opentelemetry and prometheus_client cannot be imported."""
    for name in ("opentelemetry", "prometheus_client"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('not installed')\n")
    return f"{tmp_path}{os.pathsep}{ROOT}"


def test_neither_library_is_imported_when_off(without_libraries):
    code = (
        "import django, sys; django.setup(); import tests.asgi; "
        "print(sorted({'djira.telemetry.metrics', 'djira.telemetry.tracing'} & set(sys.modules)))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "PYTHONPATH": without_libraries},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


async def test_a_server_without_either_library_serves(without_libraries, servers, connect):
    server = servers(PYTHONPATH=without_libraries)
    client = await connect(server.url)
    assert (await client.request("books", namespace="count"))["status"] == 200


@pytest.fixture(scope="module")
def traced_too(live_server_factory):
    server = telemetry_server(TRACING=True)
    yield server
    server.stop()


def push_spans_linked_to(spans, trace_id, span_id):
    link = {"trace_id": trace_id, "span_id": span_id}
    return [s for s in spans if s["kind"] == "PRODUCER" and link in s["links"]]


async def test_a_push_delivered_by_another_server_links_to_its_request(traced, traced_too, connect):
    subscriber = await connect(traced_too.url)
    joined = await subscriber.request("observed", namespace="subscribe", action="SUBSCRIPTION")
    assert joined["status"] == 200
    writer = await connect(traced.url)
    created = await writer.request(
        "observed", action="POST", data={"title": "across", "author": "x"}, request_id="r-far"
    )
    assert created["status"] == 201
    await subscriber.receive("observed", match=lambda p: p.get("data", {}).get("title") == "across")
    span = await request_span(writer, "r-far")
    (push,) = push_spans_linked_to(await spans_of(subscriber), span["trace_id"], span["span_id"])
    assert push["attributes"]["djira.push.recipients"] == 1


WRITER = """
import django
django.setup()
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
trace.set_tracer_provider(TracerProvider())
from tests.testapp.models import Book
with trace.get_tracer("shell").start_as_current_span("nightly import") as span:
    Book.objects.create(title="from the shell")
    context = span.get_span_context()
print(format(context.trace_id, "032x"), format(context.span_id, "016x"))
"""


async def test_a_push_saved_in_a_shell_links_to_the_shell_span(traced, connect):
    subscriber = await connect(traced.url)
    joined = await subscriber.request("observed", namespace="subscribe", action="SUBSCRIPTION")
    assert joined["status"] == 200
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJIRA_TEST_SETTINGS": json.dumps({"TRACING": True}),
        "PYTHONPATH": ROOT,
    }
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", WRITER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    trace_id, span_id = out.stdout.split()[-2:]
    await subscriber.receive(
        "observed", match=lambda p: p.get("data", {}).get("title") == "from the shell"
    )
    (push,) = push_spans_linked_to(await spans_of(subscriber), trace_id, span_id)
    assert push["name"] == "push observed"
