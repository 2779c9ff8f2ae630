"""python-socketio's Redis manager for djira servers, for python-socketio's own features.

``await sio.emit(...)`` in your code and ``disconnect`` of a socket on another process go
through python-socketio's ``AsyncRedisManager`` (pub/sub); djira's pushes do not (they go
through the delivery backend).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import socketio

from djira.delivery.redis import FIRST_RETRY, LAST_RETRY, SILENCE, TIMEOUT, get_server_link
from djira.delivery.rooms import IndexedRooms

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

logger = logging.getLogger("djira.redis")


async def hear(pubsub: PubSub) -> AsyncIterator[dict[str, Any]]:
    """What a just-subscribed ``pubsub`` brings (its confirmation, messages, pongs); raises
    ``ConnectionError`` once Redis leaves a question unanswered.

    redis-py's ``listen()`` waits for ever on a connection that died silently, and its
    ``health_check_interval`` pings without checking for the answer: so read with a
    deadline, and ping when it passes.
    """
    loop = asyncio.get_running_loop()
    # The subscription's confirmation is the first answer awaited.
    asked, deadline = "SUBSCRIBE", loop.time() + TIMEOUT
    while True:
        wait = deadline - loop.time()
        item = await pubsub.get_message(timeout=wait) if wait > 0 else None
        if item is None:
            if loop.time() < deadline:
                continue
            if asked:
                raise ConnectionError(f"no answer to {asked} within {TIMEOUT:g} s")
            await pubsub.ping()
            asked, deadline = "PING", loop.time() + TIMEOUT
            continue
        yield item
        # Any answer (a pong too) shows the connection alive; handling it took a while.
        asked, deadline = "", loop.time() + SILENCE


class QuietLogger(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    """python-socketio's Redis messages at debug level: djira's link tells outages once."""

    def __init__(self) -> None:
        super().__init__(logger, {})

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        # ``error``, ``warning``... all end here (logging.LoggerAdapter).
        kwargs.pop("extra", None)
        super().log(logging.DEBUG, msg, *args, **kwargs)


class DjiraAsyncRedisManager(IndexedRooms, socketio.AsyncRedisManager):
    """``AsyncRedisManager`` for djira servers (``create_server`` uses it for ``REDIS_URL``).

    Also starts djira's listener with the server (python-socketio initializes its manager on
    the first connection, on the server's loop): sockets that joined rooms by hand
    (``enter_room``) get the emits of workers and shells without subscribing to an observer.
    """

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs.setdefault("logger", QuietLogger())
        super().__init__(url, **kwargs)

    def initialize(self) -> None:
        super().initialize()
        if not self.write_only:
            link = get_server_link(self.server)
            if link is not None:
                link.listen()

    async def _redis_listen_with_retries(self) -> AsyncIterator[dict[str, Any]]:
        """python-socketio's listening loop, through ``hear``: its own waits on ``listen()``
        for ever, so a connection that died silently would stop ``await sio.emit(...)`` from
        other processes and remote disconnects from arriving, without a word. Retries back
        off as djira's link does (python-socketio's grow to 60 s); djira's link says outages.
        """
        delay = FIRST_RETRY
        while True:
            pubsub = None
            try:
                self._redis_connect()
                # Subscription confirmations and pongs too: ``hear`` waits for them. Kept in
                # a local: python-socketio's ``_publish`` may reconnect and replace
                # ``self.pubsub`` meanwhile.
                pubsub = self.pubsub = self.redis.pubsub()
                await pubsub.subscribe(self.channel)
                async for item in hear(pubsub):
                    delay = FIRST_RETRY
                    yield item  # python-socketio's ``_listen`` keeps the channel's messages
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("python-socketio's Redis listener reconnects (%s)", exc)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAST_RETRY)
