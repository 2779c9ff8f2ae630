"""djira's Redis channel: how pushes cross processes, and how its faults are told.

Why a channel of djira's own instead of python-socketio's ``RedisManager`` messages: a
manager message is an emit whose event name and rooms the publisher has already decided.
A push must be decided by each receiving server instead (the hook name and route its
sockets subscribed through, which a shell or a worker cannot know), and python-socketio has
no public way to hook into what a server does with a received message. So djira publishes
its own messages (``transport.Push`` addressed by observer identity, ``transport.Emit``)
on the channel ``djira:<db>`` and each server listens to it with one connection. Servers
still use python-socketio's ``AsyncRedisManager`` for python-socketio's own cross-process
features (``await sio.emit(...)`` in your code, ``disconnect`` of a remote socket); djira's
emits go to local sockets with ``ignore_queue=True`` so they are never sent twice.

Delivery is at most once: Redis pub/sub keeps nothing for a listener that is away.

Faults are said once: one warning when Redis becomes unreachable (naming the URL and the
cause), one when it is reachable again (with how many messages were lost), whatever the
number of pushes or reconnection attempts in between. A server's link (its client and its
``Health``) serves its pushes, rooms' history and presence alike, so they share that state.
A listener that hears nothing pings, and a connection that leaves the ping unanswered is
replaced: a connection that died without being closed is an outage too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import socketio

from djira import json as djira_json
from djira.delivery.local import deliver_locally
from djira.delivery.messages import Message, Push, from_wire, to_wire
from djira.delivery.redis_history import redis_history, stamp_sync

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

    from djira.server import DjiraServer

logger = logging.getLogger("djira.redis")

#: One Redis message carries at most this many pushes (a 1,000-row transaction is 10).
CHUNK = 100
#: Messages a server keeps for publishing while Redis is slow; beyond, the oldest go.
MAX_PENDING = 10_000
#: Connect and I/O timeouts: a Redis that hangs must not hang a save for long.
TIMEOUT = 2.0
#: Retry delays while Redis is down (seconds): first, then doubling up to the last. The last
#: is also how long pushes between processes may stay lost once Redis is back: keep it short.
FIRST_RETRY, LAST_RETRY = 0.5, 5.0
#: The listener pings Redis after this many seconds without hearing from it, and gives its
#: connection up when nothing answers within ``TIMEOUT``: a connection that died silently (a
#: failover, a NAT that dropped its state, a proxy that stopped forwarding) closes nothing, so
#: only an unanswered ping tells. Noticed within ``SILENCE + TIMEOUT`` seconds.
SILENCE = 3.0

_host: tuple[int, str] = (0, "")


def host_id() -> str:
    """Identifies this process's messages, so a server skips its own (already delivered).

    Per process id: workers forked from one parent (gunicorn ``--preload``) differ.
    """
    global _host
    pid = os.getpid()
    if _host[0] != pid:
        _host = (pid, uuid.uuid4().hex)
    return _host[1]


def channel_for(url: str) -> str:
    """``djira:<db>``: pub/sub channels ignore database numbers; keep projects apart anyway."""
    path = urlparse(url).path.strip("/") or "0"
    return f"djira:{path}"


def encode(messages: list[Message]) -> list[str]:
    """Redis messages for ``messages``, in order, ``CHUNK`` pushes each."""
    wire = [to_wire(m) for m in messages]
    host = host_id()
    return [
        djira_json.dumps({"h": host, "m": wire[i : i + CHUNK]}) for i in range(0, len(wire), CHUNK)
    ]


class Health:
    """Up/down state of one Redis for one process; logs each transition once."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.down_since: float | None = None
        self.lost = 0
        self.retry_at = 0.0
        self.delay = FIRST_RETRY
        self.lock = threading.Lock()

    def should_try(self) -> bool:
        """While down, Redis is tried again only once the back-off delay has passed."""
        return self.down_since is None or time.monotonic() >= self.retry_at

    def failed(self, exc: BaseException, lost: int = 0) -> None:
        with self.lock:
            self.lost += lost
            now = time.monotonic()
            if self.down_since is None:
                self.down_since, self.delay = now, FIRST_RETRY
                logger.warning(
                    "Redis at %s is unreachable (%s: %s): pushes between processes are lost "
                    "until it is back; each server still pushes to its own sockets.",
                    self.url,
                    type(exc).__name__,
                    exc,
                )
            else:
                self.delay = min(self.delay * 2, LAST_RETRY)
            self.retry_at = now + self.delay

    def dropped(self, count: int) -> None:
        with self.lock:
            self.lost += count

    def ok(self) -> None:
        if self.down_since is None:
            return
        with self.lock:
            if self.down_since is None:
                return
            seconds, lost = time.monotonic() - self.down_since, self.lost
            self.down_since, self.lost = None, 0
        logger.warning(
            "Redis at %s is reachable again after %.1f s; %d push(es) could not be published.",
            self.url,
            seconds,
            lost,
        )


class Publisher:
    """Publishes from processes without a server loop (shells, workers, WSGI), in order.

    Synchronous, from the committing thread; a lock keeps one process's messages in order.
    """

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.channel = channel_for(url)
        self.health = Health(url)
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
        )
        self.lock = threading.Lock()
        #: Rooms' streams (``history``): pushes are numbered in Redis before publishing.
        self.history = redis_history(url, self.channel)

    def publish(self, messages: list[Message]) -> None:
        if not messages:
            return
        if not self.health.should_try():
            self._lost(messages)
            return
        with self.lock:
            try:
                if self.history is not None and any(isinstance(m, Push) for m in messages):
                    # Under the lock: this process's offsets follow its publishing order.
                    # Numbered, then encoded once; an unencodable push fails at either step
                    # as a push of its own, not as Redis.
                    messages = self._stamped(messages)
                payloads = encode(messages)
            except (TypeError, ValueError):
                logger.exception("djira cannot encode a push for Redis; dropped")
                return
            except Exception as exc:  # numbering: Redis' errors
                self._lost(messages)
                self.health.failed(exc)
                return
            try:
                pipe = self.client.pipeline(transaction=False)
                for payload in payloads:
                    pipe.publish(self.channel, payload)
                pipe.execute()
            except Exception as exc:  # redis' errors, OSError: never into the caller's save
                self.health.failed(exc, len(messages))
                return
        self.health.ok()

    def _lost(self, messages: list[Message]) -> None:
        """Pushes that could not be numbered: their streams are reset on the next publish
        from this process (a process that exits first leaves the gap unmarked: the
        database backend has no such gap)."""
        self.health.dropped(len(messages))
        if self.history is not None:
            self.history.mark_broken([m for m in messages if isinstance(m, Push)])

    def _stamped(self, messages: list[Message]) -> list[Message]:
        assert self.history is not None
        pushes = [m for m in messages if isinstance(m, Push)]
        numbered = iter(stamp_sync(self.client, self.history, pushes))
        return [next(numbered) if isinstance(m, Push) else m for m in messages]


@lru_cache(maxsize=4)
def sync_client(url: str) -> Any:
    """The process's synchronous client for ``url``, with timeouts (the console's reads)."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)


@lru_cache(maxsize=4)
def get_publisher(url: str) -> Publisher:
    """The process's publisher for ``url`` (redis-py reconnects after a fork by itself)."""
    return Publisher(url)


class ServerLink:
    """A server's side of the channel: a publishing task and a listening task.

    Both run on the server's loop and share one ``Health``, so an outage is told once.
    """

    def __init__(self, server: DjiraServer, url: str) -> None:
        import redis.asyncio

        self.server = server
        self.url = url
        self.channel = channel_for(url)
        self.health = Health(url)
        self.client = redis.asyncio.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
        )
        self.pending: deque[Message] = deque()
        self.wakeup = asyncio.Event()
        self.ready = asyncio.Event()
        #: Rooms' streams (``history``), numbered by the outbox before delivery.
        self.history = redis_history(url, self.channel)
        self.publisher: asyncio.Task[None] | None = None
        self.listener: asyncio.Task[None] | None = None

    # -- publishing ------------------------------------------------------------------------

    def publish(self, messages: list[Message]) -> None:
        """Queue ``messages`` for the channel; must run on the server's loop."""
        if not messages:
            return
        overflow = len(self.pending) + len(messages) - MAX_PENDING
        for _ in range(max(overflow, 0)):
            self.pending.popleft()
        if overflow > 0:
            self.health.dropped(overflow)
        self.pending.extend(messages)
        self.wakeup.set()
        if self.publisher is None or self.publisher.done():
            self.publisher = asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        while True:
            while self.pending:
                batch = [self.pending.popleft() for _ in range(min(len(self.pending), CHUNK))]
                if not self.health.should_try():
                    self.health.dropped(len(batch))
                    continue
                try:
                    payloads = encode(batch)
                except (TypeError, ValueError):
                    logger.exception("djira cannot encode a push for Redis; dropped")
                    continue
                try:
                    async with self.client.pipeline(transaction=False) as pipe:
                        for payload in payloads:
                            pipe.publish(self.channel, payload)
                        await pipe.execute()
                except Exception as exc:
                    self.health.failed(exc, len(batch))
                    continue
                self.health.ok()
            self.wakeup.clear()
            await self.wakeup.wait()

    # -- listening -------------------------------------------------------------------------

    def listen(self) -> None:
        """Start listening, if not yet; must run on the server's loop."""
        if self.listener is None or self.listener.done():
            self.listener = asyncio.get_running_loop().create_task(self._listen())

    async def listening(self) -> None:
        """Start listening if needed; return once subscribed (or Redis is known down)."""
        self.listen()
        # Redis is slow: subscribing must not wait for it longer; the listener goes on.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), TIMEOUT)

    async def _listen(self) -> None:
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for item in hear(pubsub):
                    if item["type"] == "subscribe":
                        # Listening from now on: a message published after the reply is heard.
                        self.health.ok()
                        self.ready.set()
                    elif item["type"] == "message":
                        await self._receive(item["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.health.failed(exc)
                self.ready.set()  # known down: subscriptions go ahead without waiting
                await asyncio.sleep(self.health.delay)
            finally:
                # Closing a broken connection may fail too; a new one is opened either way.
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]

    async def _receive(self, raw: bytes | str) -> None:
        try:
            envelope = djira_json.loads(raw)
        except ValueError:
            return
        if not isinstance(envelope, dict) or envelope.get("h") == host_id():
            return  # ours: delivered locally before it was published
        for wire in envelope.get("m") or ():
            message = from_wire(wire)
            if message is None:
                continue
            try:
                await deliver_locally(self.server, message)
            except Exception:
                logger.exception("djira could not emit %r received from Redis", message)


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


def get_server_link(server: DjiraServer) -> ServerLink | None:
    """The server's link to ``REDIS_URL`` (created on first use, on its loop), or ``None``."""
    from djira.settings import jira_settings

    url = jira_settings.REDIS_URL
    if not url:
        return None
    link: ServerLink | None = getattr(server, "djira_link", None)
    if link is None or link.url != url:
        link = ServerLink(server, url)
        server.djira_link = link
    return link


# -- python-socketio's manager, for python-socketio's own cross-process features ----------


class QuietLogger(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    """python-socketio's Redis messages at debug level: djira's link tells outages once."""

    def __init__(self) -> None:
        super().__init__(logger, {})

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        # ``error``, ``warning``... all end here (logging.LoggerAdapter).
        kwargs.pop("extra", None)
        super().log(logging.DEBUG, msg, *args, **kwargs)


class DjiraAsyncRedisManager(socketio.AsyncRedisManager):
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
