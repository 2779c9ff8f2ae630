"""Finding the other processes' heartbeats in a real redis-server, without SCAN."""

from __future__ import annotations

import json

import pytest
import redis

from djira.admin import cluster
from tests.observers.conftest import RedisProcess


@pytest.fixture
def redis_url(settings):
    server = RedisProcess().start()
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "REDIS_URL": server.url}
    yield server.url
    server.stop()


def beat(client, process: str, ttl_ms: int = 60_000) -> None:
    """What a heartbeat writes: the snapshot key, and the id in the set of processes."""
    snap = {"process": {"id": process}}
    client.set(cluster.PREFIX + process, json.dumps(snap), px=ttl_ms)
    client.sadd(cluster.PROCESSES, process)


def test_snapshots_come_from_the_set_of_processes_and_gone_ones_leave_it(redis_url):
    client = redis.Redis.from_url(redis_url)
    beat(client, "me")
    beat(client, "alive")
    beat(client, "crashed", ttl_ms=1)
    # A key that merely looks like a heartbeat, outside the set, is nobody's business.
    client.set(cluster.PREFIX + "stray", json.dumps({"process": {"id": "stray"}}))
    client.delete(cluster.PREFIX + "crashed")  # as its time-to-live would
    found = cluster.remote_snapshots(exclude="me")
    assert [s["process"]["id"] for s in found] == ["alive"]
    # The crashed process's id went with its key; this process's own stays.
    assert {m.decode() for m in client.smembers(cluster.PROCESSES)} == {"me", "alive"}
