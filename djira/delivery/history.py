"""Each room's stream of pushes: positions, and a short history to catch up after a drop.

Every push of an observer's room gets a **position** in that room's stream: an ``offset``
that grows by one per push, and the stream's ``epoch``, a random name given when the stream
starts (a new process without Redis, a Redis stream that expired). A client that saw
``(epoch, offset)`` and lost its connection resubscribes with it (``since``); the server
sends what the room pushed after it, from a history kept per room, bounded in count
(``HISTORY_SIZE``) and in age (``HISTORY_TTL`` seconds). When the history no longer reaches
back (trimmed, expired, another epoch), the reply says ``recovered: false`` so the client
reloads instead of silently missing changes.

A stream is named by the observer's uid and the user-level room, like a push: every hook
name and route subscribed to that observer shares it.

Three stores, one per delivery backend (djira.delivery.backends):

- ``MemoryHistory`` (memory): the outbox's single task numbers pushes as it delivers them,
  so order and numbering agree by construction.
- ``djira.delivery.redis_history`` (redis): numbering and history live in Redis (one Lua
  script per batch, atomic), so every server agrees on offsets.
- ``djira.delivery.database`` (database): the outbox table numbers rows after their
  transaction commits and keeps them as the history.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from djira import exceptions

if TYPE_CHECKING:
    from djira.delivery.messages import Push
    from djira.server import DjiraServer

logger = logging.getLogger("djira")

#: How long a stream's epoch and last offset outlive its last push (seconds), at least:
#: a client idle for longer than ``HISTORY_TTL`` that missed nothing still recovers.
META_TTL = 86_400


class Entry(NamedTuple):
    """One push in a room's history."""

    offset: int
    time: float  # wall clock (``time.time()``): servers may compare each other's entries
    type: str
    data: Any


class Position(NamedTuple):
    epoch: str
    offset: int

    def as_wire(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "offset": self.offset}


@dataclass
class CatchUp:
    """What a subscription's ``since`` gives for one room."""

    position: Position  # the room's stream, now
    recovered: bool  # whether ``entries`` are everything the client missed
    entries: list[Entry] = field(default_factory=list)


def new_epoch() -> str:
    return uuid.uuid4().hex[:12]


def stream_key(observer: str, room: str) -> str:
    # An observer's uid has no colon (module, class, attribute), so this names one stream.
    return f"{observer}:{room}"


def parse_since(value: Any) -> dict[str, Position]:
    """A request's ``since``: ``{room: {"epoch": str, "offset": int >= 0}}`` (400 otherwise)."""
    if value is None:
        return {}
    error = exceptions.ParseError(
        'Field \'since\' must be an object of {room: {"epoch": string, "offset": integer}}.'
    )
    if not isinstance(value, dict):
        raise error
    since: dict[str, Position] = {}
    for room, position in value.items():
        if not isinstance(position, dict):
            raise error
        epoch, offset = position.get("epoch"), position.get("offset")
        if not isinstance(epoch, str) or not isinstance(offset, int) or isinstance(offset, bool):
            raise error
        if offset < 0:
            raise error
        since[room] = Position(epoch, offset)
    return since


def catch_up(
    since: Position | None, epoch: str, top: int, entries: Sequence[Entry], ttl: float
) -> CatchUp:
    """Decide what a client at ``since`` missed, given the stream's state now.

    ``entries`` are the stream's history in offset order (contiguous, the newest is ``top``).
    """
    position = Position(epoch, top)
    if since is None:
        return CatchUp(position, True)
    if since.epoch != epoch or since.offset > top:
        return CatchUp(position, False)
    if since.offset == top:
        return CatchUp(position, True)
    oldest = time.time() - ttl
    kept = [e for e in entries if e.time >= oldest]
    # Expired entries are the oldest ones: what is left is still contiguous up to ``top``.
    if not kept or kept[0].offset > since.offset + 1:
        return CatchUp(position, False)
    return CatchUp(position, True, [e for e in kept if e.offset > since.offset])


# -- one process -------------------------------------------------------------------------


class _Stream:
    __slots__ = ("epoch", "top", "entries", "touched")

    def __init__(self, size: int, epoch: str) -> None:
        self.epoch = epoch
        self.top = 0
        self.entries: deque[Entry] = deque(maxlen=size)
        self.touched = time.monotonic()


class MemoryHistory:
    """The streams of one process's rooms. Used from the server's loop only (no lock).

    A room's stream exists once something was pushed to it: reading (subscribing) stores
    nothing. A room never pushed to is at offset 0 of the history's ``epoch``, which every
    stream starts in; it changes when idle streams are forgotten, so a client positioned
    in a forgotten stream is told ``recovered: false`` rather than matched with a new one.
    Memory: at most ``HISTORY_SIZE`` entries per room pushed to within ``META_TTL``.
    """

    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        self.epoch = new_epoch()
        # Least recently pushed first: streams idle for ``META_TTL`` are forgotten.
        self.streams: OrderedDict[str, _Stream] = OrderedDict()

    def _stream(self, key: str) -> _Stream:
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = _Stream(self.size, self.epoch)
        return stream

    def _forget_idle(self, now: float) -> None:
        limit = now - max(self.ttl, META_TTL)
        while self.streams:
            key, stream = next(iter(self.streams.items()))
            if stream.touched >= limit:
                break
            del self.streams[key]
            self.epoch = new_epoch()

    def stamp(self, push: Push) -> Push:
        """``push`` with its position; recorded in its room's history."""
        key = stream_key(push.observer, push.room)
        stream = self._stream(key)
        stream.top += 1
        stream.touched = now = time.monotonic()
        self.streams.move_to_end(key)
        stream.entries.append(Entry(stream.top, time.time(), push.type, push.data))
        self._forget_idle(now)
        return push._replace(epoch=stream.epoch, offset=stream.top)

    def read(
        self, observer: str, rooms: list[str], since: dict[str, Position]
    ) -> dict[str, CatchUp]:
        result = {}
        for room in rooms:
            stream = self.streams.get(stream_key(observer, room))
            if stream is None:  # never pushed to (or forgotten): nothing to store for it
                result[room] = catch_up(since.get(room), self.epoch, 0, (), self.ttl)
                continue
            entries = list(stream.entries)
            result[room] = catch_up(since.get(room), stream.epoch, stream.top, entries, self.ttl)
        return result


def settings_size_ttl() -> tuple[int, float]:
    from djira.settings import jira_settings

    return int(jira_settings.HISTORY_SIZE), float(jira_settings.HISTORY_TTL)


def get_memory_history(server: DjiraServer) -> MemoryHistory | None:
    """This server's in-process history, or ``None`` when ``HISTORY_SIZE`` is 0."""
    size, ttl = settings_size_ttl()
    if size <= 0:
        return None
    history = server.delivery.history
    if history is None or (history.size, history.ttl) != (size, ttl):
        history = server.delivery.history = MemoryHistory(size, ttl)
    return history
