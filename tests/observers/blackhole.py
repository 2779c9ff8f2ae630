"""A TCP proxy that can silently stop forwarding its connections, as a dead network does.

A failover, a NAT that dropped its state or a proxy that stopped forwarding leaves the
client's socket open with nothing coming through: no reset, no close. ``BlackHoleProxy``
does that to the connections it holds when ``swallow()`` is called, while still accepting
and forwarding new ones (the network is back, the old connection is not).
"""

from __future__ import annotations

import asyncio
import contextlib

from djira.testing import free_port


class BlackHoleProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target``; a coroutine API on one loop."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.server: asyncio.Server | None = None
        #: Pumps of the connections forwarded now: cancelled by ``swallow()``.
        self.pumps: set[asyncio.Task[None]] = set()
        #: Every writer ever opened, so that ``stop()`` can close them all.
        self.writers: list[asyncio.StreamWriter] = []
        self.accepted = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    async def start(self) -> BlackHoleProxy:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers += [writer, up_writer]
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.get_running_loop().create_task(self._pump(source, sink))
            self.pumps.add(pump)
            pump.add_done_callback(self.pumps.discard)

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
        sink.close()

    def swallow(self) -> int:
        """Stop forwarding every connection held now, both ways, sockets left open.

        Returns how many pumps stopped (two per connection).
        """
        pumps = list(self.pumps)
        for pump in pumps:
            pump.cancel()
        return len(pumps)

    async def stop(self) -> None:
        self.swallow()
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        for writer in self.writers:
            with contextlib.suppress(Exception):
                await writer.wait_closed()
