"""A client that floods a server with requests from a process of its own, and the tests' side
of it (``Flood``, tests/test_sync.py and tests/test_in_flight.py).

    python -m tests.flood URL COUNT HOOK NAMESPACE [QUERY_JSON]

Connects, prints ``connected``, emits ``COUNT`` requests at once (every other one asking for
an acknowledgement, the rest answered by an event carrying their ``requestId``), prints
``sent``, waits until each has its reply (or two minutes) and prints ``answered``, waits a
moment more (a duplicate would arrive then), and prints one JSON line: replies by status,
requests with no reply, requests answered more than once, and the seconds from the first
emit to the last reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import socketio

if TYPE_CHECKING:
    from djira.testing import SocketCommunicator

ROOT = str(Path(__file__).resolve().parent.parent)
FLOOD = 5000


async def flood(url: str, count: int, hook: str, namespace: str, query: dict) -> dict:
    client = socketio.AsyncClient(reconnection=False)
    replies: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    all_answered = asyncio.Event()
    last_reply = 0.0

    def record(reply: dict) -> None:
        nonlocal last_reply
        replies[reply["requestId"]] += 1
        statuses[reply["status"]] += 1
        last_reply = time.perf_counter()
        if len(replies) == count:
            all_answered.set()

    @client.on(hook)
    def on_reply(reply: dict) -> None:  # replies to the requests sent without an ack
        record(reply)

    await client.connect(url, transports=["websocket"])
    print("connected", flush=True)
    started = time.perf_counter()
    for number in range(count):
        payload = {"namespace": namespace, "requestId": f"f{number}", "query": query}
        await client.emit(hook, payload, callback=record if number % 2 else None)
    print("sent", flush=True)
    with contextlib.suppress(TimeoutError):  # the missing ones are counted below
        await asyncio.wait_for(all_answered.wait(), 120)
    print("answered", flush=True)
    await asyncio.sleep(0.5)  # a second reply to some request would come now
    await client.disconnect()
    return {
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "missing": count - len(replies),
        "duplicated": sum(1 for n in replies.values() if n > 1),
        "seconds": round(last_reply - started, 3),
    }


def main(argv: list[str]) -> None:
    url, count, hook, namespace = argv[0], int(argv[1]), argv[2], argv[3]
    query = json.loads(argv[4]) if len(argv) > 4 else {}
    print(json.dumps(asyncio.run(flood(url, count, hook, namespace, query))), flush=True)


# -- the tests' side ---------------------------------------------------------------------------


async def timed_request(client: SocketCommunicator, hook: str, namespace: str) -> float:
    """Seconds one request takes to be answered (it must succeed)."""
    started = time.perf_counter()
    reply = await client.request(hook, namespace=namespace)
    assert reply["status"] == 200, reply
    return time.perf_counter() - started


async def sample_during(
    flood: Flood, client: SocketCommunicator, hook: str, namespace: str, seconds: float = 3.0
) -> list[float]:
    """The seconds of requests made one after another while ``flood`` is served, for
    ``seconds`` at most. Not to its end: while another connection keeps being served, the
    server paces a flood (djira.sync.Lanes), so that it would last minutes."""
    samples: list[float] = []
    ends = time.perf_counter() + seconds
    while not flood.answered.is_set() and time.perf_counter() < ends:
        samples.append(await timed_request(client, hook, namespace))
        await asyncio.sleep(0.01)
    return samples


class Flood:
    """``FLOOD`` requests from a client in a process of its own (this module, run)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.answered = asyncio.Event()  # every flood request has had its reply
        self._lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, url: str, hook: str, namespace: str, query: dict | None = None) -> Flood:
        """Start it; return once it has emitted all its requests. A coroutine."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "tests.flood", url, str(FLOOD), hook, namespace, json.dumps(query or {})),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        for expected in ("connected", "sent"):
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line.decode().strip() == expected, line
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self._lines.append(line.decode().strip())
            if self._lines[-1] == "answered":
                self.answered.set()

    async def result(self) -> dict:
        """Its replies by status, missing and duplicated ones, and how long it took."""
        await asyncio.wait_for(self.process.wait(), 180)
        await self._reader
        assert self.process.returncode == 0, self._lines
        return json.loads(self._lines[-1])


if __name__ == "__main__":
    main(sys.argv[1:])
