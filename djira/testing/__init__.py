"""Testing helpers for djira projects: communicators, like Channels' ``WebsocketCommunicator``.

In process, no server (``InProcessCommunicator``), inside pytest-django's transactional
tests::

    async with InProcessCommunicator(application, token=token.key) as client:
        reply = await client.request("users", namespace="me")
        assert reply["status"] == 200

Against your application under uvicorn (``LiveServer``), as a real client connects::

    async with SocketCommunicator(live_server.url, token=token.key) as client:
        ...

``SocketCommunicator`` is built on python-socketio's ``AsyncClient`` (install ``aiohttp``);
both have short timeouts and assertion messages that say what was awaited.
"""

from __future__ import annotations

from djira.testing.communicator import BaseCommunicator, ConnectionRefused, SocketCommunicator
from djira.testing.inprocess import InProcessCommunicator
from djira.testing.live import LiveServer, free_port

__all__ = [
    "BaseCommunicator",
    "ConnectionRefused",
    "InProcessCommunicator",
    "LiveServer",
    "SocketCommunicator",
    "free_port",
]
