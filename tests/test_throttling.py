"""Throttles identify a client by its real connection, never by what it sends."""

from __future__ import annotations

import random

import aiohttp
import pytest
import socketio

pytestmark = pytest.mark.usefixtures("db_")

BURST = 3  # tests/settings.py: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["burst"]


async def open_client(url: str, local_ip: str = "127.0.0.1", headers=None):
    """A python-socketio client whose TCP connections leave from ``local_ip``."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(local_ip, 0)))
    client = socketio.AsyncClient(reconnection=False, http_session=session)
    await client.connect(url, headers=headers or {}, transports=["websocket"], wait_timeout=5)
    return client, session


async def statuses(client, count: int, headers=None) -> list[int]:
    payload = {"namespace": "throttled"}
    if headers is not None:
        payload["headers"] = headers
    return [(await client.call("books", payload, timeout=5))["status"] for _ in range(count)]


def random_loopback() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


async def test_two_anonymous_clients_have_their_own_buckets(server):
    a, a_session = await open_client(server.url, random_loopback())
    b, b_session = await open_client(server.url, random_loopback())
    try:
        assert await statuses(a, BURST + 1) == [200] * BURST + [429]
        assert await statuses(b, 1) == [200]  # a's bucket is not b's
    finally:
        for client, session in ((a, a_session), (b, b_session)):
            await client.disconnect()
            await session.close()


async def test_a_forwarded_header_in_the_payload_is_ignored(server):
    client, session = await open_client(server.url, random_loopback())
    try:
        spoofed = [
            {"X-Forwarded-For": f"203.0.113.{i}", "x-forwarded-for": str(i)} for i in range(5)
        ]
        results = [(await statuses(client, 1, headers))[0] for headers in spoofed]
        assert results == [200] * BURST + [429, 429]
        # A non-string value is no reason for a 500 either.
        assert await statuses(client, 1, {"x-forwarded-for": ["a", 1]}) == [429]
    finally:
        await client.disconnect()
        await session.close()


async def test_handshake_forwarded_for_counts_only_behind_trusted_proxies(
    server, live_server_factory
):
    # No NUM_PROXIES: the handshake's X-Forwarded-For is not trusted either.
    ip = random_loopback()
    first, s1 = await open_client(server.url, ip, {"X-Forwarded-For": "203.0.113.7"})
    second, s2 = await open_client(server.url, ip, {"X-Forwarded-For": "203.0.113.8"})
    try:
        assert await statuses(first, BURST) == [200] * BURST
        assert await statuses(second, 1) == [429]  # same peer, same bucket
    finally:
        for client, session in ((first, s1), (second, s2)):
            await client.disconnect()
            await session.close()
    # Behind one trusted proxy, the address it forwarded identifies the client.
    proxied = live_server_factory(DJIRA_TEST_NUM_PROXIES="1")
    tail = random.randint(1, 254)
    first, s1 = await open_client(proxied.url, ip, {"X-Forwarded-For": f"198.51.100.{tail}"})
    second, s2 = await open_client(
        proxied.url, ip, {"X-Forwarded-For": f"203.0.113.9, 198.51.100.{(tail % 254) + 1}"}
    )
    try:
        assert await statuses(first, BURST + 1) == [200] * BURST + [429]
        assert await statuses(second, 1) == [200]
    finally:
        for client, session in ((first, s1), (second, s2)):
            await client.disconnect()
            await session.close()


async def test_a_connection_meta_keeps_no_forwarding_header(server):
    # DRF before 3.18 reads META["HTTP_X_FORWARDED_FOR"] for throttle identities: once the
    # address is resolved (here without NUM_PROXIES: the peer's), the header is gone.
    ip = random_loopback()
    client, session = await open_client(
        server.url, ip, {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8"}
    )
    try:
        reply = await client.call("runtime", {"namespace": "meta"}, timeout=5)
        assert reply["status"] == 200
        meta = reply["data"]
        assert meta["REMOTE_ADDR"] == ip
        assert "HTTP_X_FORWARDED_FOR" not in meta and "HTTP_X_REAL_IP" not in meta
    finally:
        await client.disconnect()
        await session.close()
