"""Pushes written straight to each connection (djira.delivery.wire), on each uvicorn
websocket implementation: found, framed right at every length class, in order."""

from __future__ import annotations

import asyncio
import json

import pytest

from djira.testing import LiveServer
from tests.conftest import ROOT
from tests.observers.rawsocket import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIBE = {"namespace": "subscribe", "action": "SUBSCRIPTION"}


class WsServer(LiveServer):
    def __init__(self, ws: str) -> None:
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "PYTHONPATH": ROOT,
            "DJIRA_TEST_DELIVERY_BACKEND": "memory",
        }
        super().__init__("tests.observers.wire_asgi:application", env=env, cwd=ROOT)
        self.ws = ws

    def command(self) -> list[str]:
        return [*super().command(), "--ws", self.ws]


@pytest.fixture(params=["websockets-sansio", "wsproto", "websockets"])
def server(request):
    server = WsServer(request.param).start()
    yield server
    server.stop()


async def _push(control: RawSocket, room: str, count: int, size: int) -> None:
    data = {"room": room, "count": count, "size": size}
    reply = await control.call("blobs", {"namespace": "push", "action": "POST", "data": data})
    assert reply["status"] == 200, reply


async def test_each_uvicorn_websocket_gives_its_transport(server):
    sub = await RawSocket.open(server.port)
    reply = await sub.call("wire", {"namespace": "state"})
    assert reply["data"] == {"wired": True}
    sub.close()


@pytest.mark.parametrize("size", [10, 1_000, 70_000])  # 7-bit, 16-bit and 64-bit lengths
async def test_pushes_arrive_whole_and_in_order(server, size):
    control = await RawSocket.open(server.port)
    sub = await RawSocket.open(server.port, rcvbuf=None)
    await sub.call("blobs", {**SUBSCRIBE, "query": {"room": "w"}})
    await _push(control, "w", 50, size)
    seqs = []
    while len(seqs) < 50:
        text = await asyncio.wait_for(sub.recv(), 10)
        assert text is not None
        if text.startswith('42["blobs"'):
            data = json.loads(text[2:])[1]["data"]
            assert len(data["blob"]) == size
            seqs.append(data["seq"])
    assert seqs == list(range(50))
    # A request after the pushes is answered after them too: nothing overtook anything.
    assert (await sub.call("wire", {"namespace": "state"}))["status"] == 200
    control.close()
    sub.close()


async def test_replies_and_pushes_share_one_order(server):
    # Requests in flight while pushes arrive: each reply and push is whole, pushes in order.
    control = await RawSocket.open(server.port)
    sub = await RawSocket.open(server.port, rcvbuf=None)
    await sub.call("blobs", {**SUBSCRIBE, "query": {"room": "mixed"}})
    ids = [
        await sub.send_only("blobs", {"namespace": "echo_size", "data": "x" * 5000})
        for _ in range(20)
    ]
    await _push(control, "mixed", 100, 3000)
    seqs, acks = [], set()
    while len(seqs) < 100 or len(acks) < len(ids):
        text = await asyncio.wait_for(sub.recv(), 10)
        assert text is not None
        if text.startswith('42["blobs"'):
            seqs.append(json.loads(text[2:])[1]["data"]["seq"])
        elif text.startswith("43"):
            acks.add(int(text[2 : text.index("[")]))
    assert seqs == list(range(100)) and acks == set(ids)
    control.close()
    sub.close()
