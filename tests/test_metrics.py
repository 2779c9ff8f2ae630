"""Prometheus metrics (djira.telemetry.metrics), scraped over HTTP from running servers.

The text is parsed with prometheus_client's own parser, as Prometheus would read it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from djira.testing import SocketCommunicator, free_port
from tests.conftest import ROOT, start_server
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")

TOKEN = "scrape-token"
SETTINGS = {"METRICS": True, "METRICS_TOKEN": TOKEN}


def scrape(url: str, token: str | None = TOKEN) -> dict[tuple[str, tuple], float]:
    """Every sample at ``url``'s metrics view: (name, sorted labels) -> value."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url + "/djira/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def status_of(url: str, token: str | None) -> int:
    try:
        scrape(url, token)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


@pytest.fixture(scope="module")
def metered(live_server_factory):  # live_server_factory: the test database is set up first
    server = start_server(
        "tests.asgi_telemetry:application", DJIRA_TEST_SETTINGS=json.dumps(SETTINGS)
    )
    yield server
    server.stop()


async def test_requests_are_counted_by_hook_route_verb_and_status(metered, connect):
    labels = {"hook": "books", "route": "count", "verb": "GET"}
    before = await asyncio.to_thread(scrape, metered.url)
    client = await connect(metered.url)
    for _ in range(3):
        assert (await client.request("books", namespace="count"))["status"] == 200
    assert (await client.request("books", namespace="admin_only"))["status"] == 401
    after = await asyncio.to_thread(scrape, metered.url)

    def grew(name, **extra):
        return value(after, name, **extra) - value(before, name, **extra)

    assert grew("djira_requests_total", **labels, status="200") == 3
    assert grew("djira_request_duration_seconds_count", **labels) == 3
    assert grew("djira_request_duration_seconds_sum", **labels) > 0
    assert grew("djira_reply_size_bytes_count", hook="books", route="count") == 3
    denied = {"hook": "books", "route": "admin_only", "verb": "GET", "status": "401"}
    assert grew("djira_requests_total", **denied) == 1
    # One unit of sync work per request at least (the checks and the body).
    assert grew("djira_worker_queue_wait_seconds_count") >= 4


async def test_unknown_hooks_share_one_label(metered, connect):
    client = await connect(metered.url)
    for name in ("made-up-1", "made-up-2"):
        assert (await client.request(name))["status"] == 404
    samples = await asyncio.to_thread(scrape, metered.url)
    labelled = {v for (_, labels) in samples for _, v in labels}
    assert "made-up-1" not in labelled and "made-up-2" not in labelled
    unknown = {"hook": "unknown", "route": "", "verb": "GET", "status": "404"}
    assert value(samples, "djira_requests_total", **unknown) >= 2


async def test_no_label_names_a_connection_a_user_or_a_room(metered, connect, user, token):
    book = await Book.objects.acreate(title="watched")
    client = await connect(metered.url, token=token)
    joined = await client.request(
        "observed", namespace="subscribe", pk=book.pk, action="SUBSCRIPTION"
    )
    assert joined["status"] == 200
    samples = await asyncio.to_thread(scrape, metered.url)
    # Status codes and bucket bounds are numbers by nature; PostgreSQL's sequences are not
    # reset between tests, so the user's pk can equal one (201 was seen in CI).
    numeric = {"status", "le"}
    labelled = {
        v
        for (name, labels) in samples
        if name.startswith("djira_")
        for key, v in labels
        if key not in numeric
    }
    assert client.sid not in labelled
    assert str(user.pk) not in labelled and user.username not in labelled
    assert not any("book__" in v for v in labelled)


async def test_connections_and_disconnects(metered):
    websocket = {"transport": "websocket", "namespace": "/"}
    before = await asyncio.to_thread(scrape, metered.url)
    client = await SocketCommunicator(metered.url).connect()
    during = await asyncio.to_thread(scrape, metered.url)
    assert value(during, "djira_connections", **websocket) == (
        value(before, "djira_connections", **websocket) + 1
    )
    assert value(during, "djira_handshakes_total", status="200") == (
        value(before, "djira_handshakes_total", status="200") + 1
    )
    await client.disconnect()
    for _ in range(100):  # the server hears of the disconnect a moment later
        after = await asyncio.to_thread(scrape, metered.url)
        if value(after, "djira_connections", **websocket) == value(
            before, "djira_connections", **websocket
        ):
            break
        await asyncio.sleep(0.05)
    assert value(after, "djira_connections", **websocket) == value(
        before, "djira_connections", **websocket
    )

    def disconnects(samples):
        return sum(v for (name, _), v in samples.items() if name == "djira_disconnects_total")

    assert disconnects(after) == disconnects(before) + 1
    reasons = {
        dict(labels)["reason"] for name, labels in after if name == "djira_disconnects_total"
    }
    assert reasons <= {"client disconnect", "transport close"}


async def test_refused_handshakes_are_counted(metered):
    before = await asyncio.to_thread(scrape, metered.url)
    with pytest.raises(Exception):  # noqa: B017 - the communicator's refusal error
        await SocketCommunicator(metered.url, token="not-a-token").connect()
    after = await asyncio.to_thread(scrape, metered.url)
    assert value(after, "djira_handshakes_total", status="401") == (
        value(before, "djira_handshakes_total", status="401") + 1
    )


async def subscribe_and_create(subscriber, title):
    """``subscriber`` watches ``observed``, creates a book and receives its push."""
    joined = await subscriber.request("observed", namespace="subscribe", action="SUBSCRIPTION")
    assert joined["status"] == 200
    created = await subscriber.request("observed", action="POST", data={"title": title})
    assert created["status"] == 201
    await subscriber.receive("observed", match=lambda p: p.get("type") == "create")


async def test_pushes_are_counted_by_event_and_type(metered, connect):
    labels = {"event": "observed", "type": "create"}
    before = await asyncio.to_thread(scrape, metered.url)
    await subscribe_and_create(await connect(metered.url), "counted")
    after = await asyncio.to_thread(scrape, metered.url)
    assert value(after, "djira_pushes_total", **labels) == (
        value(before, "djira_pushes_total", **labels) + 1
    )


async def test_a_scrape_runs_the_readiness_checks(metered):
    samples = await asyncio.to_thread(scrape, metered.url)
    assert value(samples, "djira_ready", check="database") == 1


def test_the_view_wants_the_token_or_a_staff_user(metered):
    assert status_of(metered.url, None) == 401
    assert status_of(metered.url, "wrong") == 401
    assert status_of(metered.url, TOKEN) == 200


@override_settings(DJIRA_SETTINGS={"METRICS": True})
def test_staff_users_may_read_the_metrics(admin_user, user):
    client = Client()
    assert client.get("/djira/metrics").status_code == 401
    client.force_login(user)
    assert client.get("/djira/metrics").status_code == 403
    client.force_login(admin_user)
    response = client.get("/djira/metrics")
    assert response.status_code == 200
    names = {f.name for f in text_string_to_metric_families(response.content.decode())}
    assert {"djira_requests", "djira_connections", "djira_pushes"} <= names


@override_settings(DJIRA_SETTINGS={"METRICS": False})
def test_the_view_is_not_found_while_metrics_are_off(admin_user):
    client = Client()
    client.force_login(admin_user)
    assert client.get("/djira/metrics").status_code == 404


# -- several worker processes ----------------------------------------------------------------


@pytest.fixture(scope="module")
def gunicorn(live_server_factory, tmp_path_factory):
    """Two uvicorn workers under gunicorn sharing a PROMETHEUS_MULTIPROC_DIR."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJIRA_TEST_SETTINGS": json.dumps(SETTINGS),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("prometheus")),
        "PYTHONPATH": ROOT,
    }
    command = ["gunicorn", "tests.asgi_telemetry:application", "-k"]
    command += ["uvicorn_worker.UvicornWorker", "-w", "2", "-b", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "gunicorn exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not listen"
            time.sleep(0.05)  # waiting for a subprocess to listen, not a test condition
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(20)


async def connect_pid(url):
    client = await SocketCommunicator(url).connect()
    return client, (await client.request("spans", namespace="pid"))["data"]


async def on_another_worker(url, busy, pid):
    """A client on a worker other than ``pid``'s, which ``busy`` blocks meanwhile."""
    for _ in range(20):
        await busy.emit("spans", {"namespace": "hold", "action": "POST", "data": 0.5})
        await busy.receive_nothing(0.05)  # let the hold begin
        client, other = await connect_pid(url)
        if other != pid:
            return client, other
        await client.disconnect()
    raise AssertionError("every connection landed on the same worker")


async def test_every_worker_counts_into_one_scrape(gunicorn):
    first, first_pid = await connect_pid(gunicorn)
    second, second_pid = await on_another_worker(gunicorn, first, first_pid)
    try:
        for client, times in ((first, 3), (second, 5)):
            for _ in range(times):
                assert (await client.request("books", namespace="count"))["status"] == 200
        count = {"hook": "books", "route": "count", "verb": "GET", "status": "200"}
        # Whichever worker answers the scrape, it reads both workers' values.
        for _ in range(4):
            samples = await asyncio.to_thread(scrape, gunicorn)
            assert value(samples, "djira_requests_total", **count) == 8
            assert value(samples, "djira_connections", transport="websocket", namespace="/") == 2
    finally:
        await first.disconnect()
        await second.disconnect()
    assert first_pid != second_pid


def test_the_grafana_dashboard_queries_only_metrics_djira_exports():
    import re
    from pathlib import Path

    from djira.telemetry.metrics import get_metrics

    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_count", "_sum"]}
    exported = {
        metric._name + suffix for metric in get_metrics() for suffix in suffixes[metric._type]
    }
    dashboard = json.loads((Path(ROOT) / "docs" / "grafana" / "djira-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\bdjira_[a-z_]+", expr)}
    assert used and used <= exported, used - exported
    assert {m._name for m in get_metrics()} <= {n.removesuffix("_bucket") for n in used} | {
        n.removesuffix("_total") for n in used
    }


# -- fan-out, queues and the delivery backend --------------------------------------------------


async def test_each_push_observes_how_many_sockets_it_went_to(metered, connect):
    before = await asyncio.to_thread(scrape, metered.url)
    subscribers = [await connect(metered.url) for _ in range(3)]
    for subscriber in subscribers:
        joined = await subscriber.request("observed", namespace="subscribe", action="SUBSCRIPTION")
        assert joined["status"] == 200
    created = await subscribers[0].request("observed", action="POST", data={"title": "fanned"})
    assert created["status"] == 201
    for subscriber in subscribers:
        await subscriber.receive("observed", match=lambda p: p.get("type") == "create")
    after = await asyncio.to_thread(scrape, metered.url)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("djira_push_recipients_count", event="observed") == 1
    assert grew("djira_push_recipients_sum", event="observed") == 3
    assert grew("djira_push_recipients_bucket", event="observed", le="2.0") == 0
    assert grew("djira_push_recipients_bucket", event="observed", le="5.0") == 1


async def test_a_closed_connection_observes_its_queue_high_water_mark(metered):
    before = await asyncio.to_thread(scrape, metered.url)
    # Long-polling: every message waits in the socket's queue for the next poll (over a
    # websocket, one for a socket that nothing waits for is written straight to it). The
    # Socket.IO CONNECT reply makes a mark of one at least.
    client = await SocketCommunicator(metered.url, transports=["polling"]).connect()
    during = await asyncio.to_thread(scrape, metered.url)
    assert value(during, "djira_socket_queue_high_water_open") >= 1
    await client.disconnect()
    for _ in range(100):  # the server hears of the disconnect a moment later
        after = await asyncio.to_thread(scrape, metered.url)
        count = value(after, "djira_socket_queue_high_water_count")
        if count > value(before, "djira_socket_queue_high_water_count"):
            break
        await asyncio.sleep(0.05)
    assert count == value(before, "djira_socket_queue_high_water_count") + 1
    assert value(after, "djira_socket_queue_high_water_sum") >= (
        value(before, "djira_socket_queue_high_water_sum") + 1
    )


async def test_the_delivery_backend_is_up_and_caught_up_after_a_push(metered, connect):
    await subscribe_and_create(await connect(metered.url), "followed")
    # The push the subscriber got may be one of several rows the outbox's follower delivers
    # in turn (other observers of the model, other tests' leftovers): read until it is done.
    for _ in range(100):
        samples = await asyncio.to_thread(scrape, metered.url)
        if value(samples, "djira_delivery_lag_messages", backend="database") == 0:
            break
        await asyncio.sleep(0.05)
    # The test server's backend is the database's outbox (DELIVERY_BACKEND None, no Redis).
    assert value(samples, "djira_delivery_up", backend="database") == 1
    assert value(samples, "djira_delivery_lag_messages", backend="database") == 0
    assert ("djira_delivery_lag_messages", (("backend", "database"),)) in samples


@pytest.fixture
def redis_metered(live_server_factory):
    """A metered server whose delivery backend is a Redis this test may stop and restart."""
    from tests._redis import REDIS_SERVER, RedisProcess

    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed")
    redis = RedisProcess().start()
    server = start_server(
        "tests.asgi_telemetry:application",
        DJIRA_TEST_SETTINGS=json.dumps(SETTINGS),
        DJIRA_REDIS_URL=redis.url,
    )
    yield server, redis
    server.stop()
    redis.stop()


async def delivery_up_becomes(url, expected):
    for _ in range(200):  # the link notices an outage (or its end) on its next read
        samples = await asyncio.to_thread(scrape, url)
        if value(samples, "djira_delivery_up", backend="redis") == expected:
            return samples
        await asyncio.sleep(0.1)
    raise AssertionError(f"djira_delivery_up{{backend='redis'}} never became {expected}")


async def test_the_redis_links_health_is_read_at_scrape_time(redis_metered):
    server, redis = redis_metered
    client = await SocketCommunicator(server.url).connect()  # the server links to Redis
    try:
        samples = await delivery_up_becomes(server.url, 1)
        assert value(samples, "djira_delivery_lag_messages", backend="redis") == 0
        redis.stop()
        await delivery_up_becomes(server.url, 0)
        redis.start()  # on the same port: the link reconnects by itself
        await delivery_up_becomes(server.url, 1)
    finally:
        await client.disconnect()
