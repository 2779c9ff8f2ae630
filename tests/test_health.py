"""djira.health: the liveness and readiness endpoints, in process and through a real server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import urllib.error
import urllib.request

import pytest
from django.test import override_settings

from djira import health
from djira.health import HealthCheck
from djira.testing import free_port

pytestmark = pytest.mark.django_db(transaction=True)


async def passed_on(scope, receive, send):
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"the app"})


async def call(app, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One HTTP request through ``app``: status, headers, body."""
    messages: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    await app(scope, receive, send)
    start, body = messages
    headers = {key.decode(): value.decode() for key, value in start["headers"]}
    return start["status"], headers, body["body"]


@pytest.fixture
def app():
    return HealthCheck(passed_on, "djira/health")


@pytest.fixture(scope="module")
def redis_server():
    from tests.observers.conftest import REDIS_SERVER, RedisProcess

    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed")
    redis = RedisProcess().start()
    yield redis
    redis.stop()


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setattr(health, "CACHE_SECONDS", 0)


async def test_live_answers_ok(app):
    status, headers, body = await call(app, "/djira/health/live")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"


async def test_ready_checks_the_database(app):
    status, _, body = await call(app, "/djira/health/ready")
    assert (status, json.loads(body)) == (200, {"status": "ok", "checks": {"database": "ok"}})


async def test_a_trailing_slash_is_the_same_endpoint(app):
    status, _, _ = await call(app, "/djira/health/ready/")
    assert status == 200


async def test_ready_is_503_and_says_no_more_than_which_check_failed(app, monkeypatch, caplog):
    def broken():
        raise RuntimeError("connection to db.internal:5432 refused")

    monkeypatch.setattr(health, "ping_databases", broken)
    with caplog.at_level(logging.WARNING, logger="djira"):
        status, _, body = await call(app, "/djira/health/ready")
    assert status == 503
    assert json.loads(body) == {"status": "unavailable", "checks": {"database": "unavailable"}}
    # The reason is the operator's, in the log; never in the response.
    assert "db.internal" not in body.decode()
    assert "database is unavailable (RuntimeError: connection to db.internal" in caplog.text


async def test_a_failure_and_its_recovery_are_logged_once_each(app, monkeypatch, caplog, no_cache):
    failing = True

    def flaky():
        if failing:
            raise RuntimeError("down")

    monkeypatch.setattr(health, "ping_databases", flaky)
    with caplog.at_level(logging.WARNING, logger="djira"):
        for _ in range(3):
            assert (await call(app, "/djira/health/ready"))[0] == 503
        failing = False
        for _ in range(2):
            assert (await call(app, "/djira/health/ready"))[0] == 200
    messages = [r.getMessage() for r in caplog.records if "djira health" in r.getMessage()]
    assert messages == [
        "djira health: database is unavailable (RuntimeError: down)",
        "djira health: database is available again",
    ]


async def test_a_hanging_database_is_unavailable_within_the_timeout(app, monkeypatch, no_cache):
    release = threading.Event()
    calls = []

    def hangs():
        calls.append(1)
        release.wait(10)

    monkeypatch.setattr(health, "ping_databases", hangs)
    monkeypatch.setattr(health, "CHECK_TIMEOUT", 0.2)
    try:
        status, _, _ = await asyncio.wait_for(call(app, "/djira/health/ready"), 2)
        assert status == 503
        # Still hanging: the next probe fails at once instead of stacking another thread.
        status, _, _ = await asyncio.wait_for(call(app, "/djira/health/ready"), 0.1)
        assert status == 503
        assert len(calls) == 1
    finally:
        release.set()


async def test_probes_share_one_check_a_second(app, monkeypatch):
    calls = []

    def counted():
        calls.append(1)

    monkeypatch.setattr(health, "ping_databases", counted)
    replies = await asyncio.gather(*(call(app, "/djira/health/ready") for _ in range(20)))
    replies += [await call(app, "/djira/health/ready") for _ in range(5)]
    assert {status for status, _, _ in replies} == {200}
    assert len(calls) == 1


async def test_other_methods_are_not_allowed(app):
    status, headers, _ = await call(app, "/djira/health/ready", method="POST")
    assert (status, headers["allow"]) == (405, "GET, HEAD")


async def test_head_has_no_body(app):
    status, headers, body = await call(app, "/djira/health/live", method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) > 0


async def test_other_paths_go_to_the_application(app):
    assert await call(app, "/djira/health/other") == (299, {}, b"the app")
    assert await call(app, "/djira/healthy/live") == (299, {}, b"the app")


async def test_redis_is_checked_when_redis_url_is_set(app, redis_server):
    with override_settings(DJIRA_SETTINGS={"REDIS_URL": redis_server.url}):
        status, _, body = await call(app, "/djira/health/ready")
    assert status == 200
    assert json.loads(body)["checks"] == {"database": "ok", "redis": "ok"}


async def test_unreachable_redis_makes_it_unready(app):
    with override_settings(DJIRA_SETTINGS={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}):
        status, _, body = await asyncio.wait_for(call(app, "/djira/health/ready"), 2)
    assert status == 503
    assert json.loads(body)["checks"] == {"database": "ok", "redis": "unavailable"}


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_served_by_get_asgi_application(server):
    assert fetch(f"{server.url}/djira/health/live") == (200, '{"status": "ok"}')
    status, body = fetch(f"{server.url}/djira/health/ready")
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_health_path_none_turns_them_off(live_server_factory):
    server = live_server_factory(DJIRA_TEST_HEALTH_PATH="none")
    assert fetch(f"{server.url}/djira/health/live")[0] == 404
