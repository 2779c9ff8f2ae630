"""The python-engineio server under djira's python-socketio server.

``DjiraEngineServer`` is python-engineio's ``AsyncServer`` with its ping check (the
"service task") rewritten to hold no socket while it waits. python-engineio's walks a copy of
the sockets dict, sleeping ``ping_timeout / len(sockets)`` between sockets: the copy keeps
every socket of the round alive for the whole round (``ping_timeout``, 20 s by default), and
each socket keeps its connection (websocket protocol, buffers, sessions). Under connection
churn that is hundreds of closed connections alive at any moment, scanned by every garbage
collection (bench/soak.py: 47 reconnects a second). Here the round walks the sockets' ids
and looks each socket up at its turn, so a closed connection is freed as soon as it ends.

The check itself is python-engineio's (``AsyncSocket.check_ping_timeout``, djira's
``DjiraSocket`` on top), made at the same rate: every socket once per ``ping_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import engineio

from djira.environ import translate_request

logger = logging.getLogger("djira")

#: The round's steps: the sockets are checked in batches this many seconds apart, so that
#: ``shutdown`` (which sets ``service_task_event`` and awaits the task) waits no longer.
SERVICE_STEP = 0.5


class DjiraEngineServer(engineio.AsyncServer):
    """python-engineio's ``AsyncServer``, with a ping check that holds no socket, and each
    ASGI request's environ built without a class per request (djira.environ).

    ``_service_task`` is private in python-engineio. What it must do is tested: close a
    client whose pong is late (``tests/test_socket_lifetime.py``, over uvicorn
    ``tests/test_ping_live.py``), stop on ``shutdown`` and keep no closed socket alive
    (``tests/test_engine.py``).
    """

    #: python-engineio's driver for the async mode (set by its ``__init__``).
    _async: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.async_mode == "asgi":
            # python-engineio's ASGI driver reads requests through ``_async``, a dict its
            # servers share: this server gets a copy.
            self._async = {**self._async, "translate_request": translate_request}

    async def _service_task(self) -> None:
        self.service_task_event = stop = self.create_event()
        while not stop.is_set():
            try:
                await self._service_round(stop)
            except Exception:
                # As python-engineio's: an unexpected error is logged, and the checks go on.
                logger.exception("Engine.IO ping check failed; it goes on")
                await asyncio.sleep(SERVICE_STEP)

    async def _service_round(self, stop: asyncio.Event) -> None:
        """Check every socket once, in batches over ``ping_timeout`` seconds."""
        sids = list(self.sockets)  # ids only: a socket that closes meanwhile is not held
        steps = max(1, math.floor(self.ping_timeout / SERVICE_STEP))
        batch = max(1, math.ceil(len(sids) / steps))
        for step in range(steps):
            for sid in sids[step * batch : (step + 1) * batch]:
                await self._check_socket(sid)
            try:
                await asyncio.wait_for(stop.wait(), SERVICE_STEP)
            except TimeoutError:
                continue
            return  # shutdown

    async def _check_socket(self, sid: str) -> None:
        socket: Any = self.sockets.get(sid)
        if socket is None:
            return
        if socket.closed:
            self.sockets.pop(sid, None)
        elif not socket.closing:
            await socket.check_ping_timeout()
