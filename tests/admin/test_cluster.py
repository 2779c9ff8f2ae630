"""The registry of live processes, on every backend that shares one: a real redis-server and
the test database. What one process publishes, another reads; a process that stopped
renewing is gone without saying goodbye; flags reach every process."""

from __future__ import annotations

import asyncio
import json

import pytest

from djira.admin import cluster
from djira.delivery.processes import DatabaseRegistry, RedisRegistry, Registry
from djira.server import DjiraServer
from tests.observers.conftest import RedisProcess

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["database", "redis"])
def registry(request, settings):
    if request.param == "database":
        settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "DELIVERY_BACKEND": "database"}
        yield DatabaseRegistry()
        return
    server = RedisProcess().start()
    settings.DJIRA_SETTINGS = {
        **settings.DJIRA_SETTINGS,
        "REDIS_URL": server.url,
        "DELIVERY_BACKEND": "redis",
    }
    yield RedisRegistry(server.url)
    server.stop()


def snap(process: str) -> str:
    return json.dumps({"process": {"id": process}})


async def test_other_processes_are_found_until_they_stop(registry: Registry):
    server = DjiraServer()
    for process in ("me", "alive"):
        await registry.beat(server, process, snap(process), ttl=60)
    await registry.beat(server, "crashed", snap("crashed"), ttl=0.05)
    await asyncio.sleep(0.2)  # past the crashed process's time to live
    others = await asyncio.to_thread(registry.others, "me")
    assert [s["process"]["id"] for s in others] == ["alive"]
    await registry.leave(server, "alive")
    assert await asyncio.to_thread(registry.others, "me") == []


async def test_a_flag_reaches_every_process_until_it_expires(registry: Registry):
    server = DjiraServer()
    assert await registry.flagged(server, "watched") is False
    await asyncio.to_thread(registry.flag, "watched", 0.3)
    assert await registry.flagged(server, "watched") is True
    await asyncio.sleep(0.5)
    assert await registry.flagged(server, "watched") is False


async def test_a_flag_is_read_from_a_thread_without_a_loop(registry: Registry):
    # ``raised``: what a saving thread asks (djira.admin.live.watching).
    assert await asyncio.to_thread(registry.raised, "saved") is False
    await asyncio.to_thread(registry.flag, "saved", 60)
    assert await asyncio.to_thread(registry.raised, "saved") is True


def test_the_console_reads_the_configured_backends_registry(settings):
    on = {**settings.DJIRA_SETTINGS, "HEARTBEAT_INTERVAL": 1.0}
    settings.DJIRA_SETTINGS = {**on, "DELIVERY_BACKEND": "memory"}
    assert cluster.clustered() is False and cluster.remote_snapshots(exclude="me") == []
    settings.DJIRA_SETTINGS = {**on, "DELIVERY_BACKEND": "database"}
    assert cluster.clustered() is True
    # No heartbeat: this process alone, whatever the backend.
    settings.DJIRA_SETTINGS = {**on, "HEARTBEAT_INTERVAL": None}
    assert cluster.clustered() is False
