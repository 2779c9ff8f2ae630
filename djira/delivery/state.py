"""One server's delivery state: the typed object a server holds as ``server.delivery``.

Each part is built on first use by the module that owns it (``outbox.get_outbox``,
``local.get_addresses``, ``presence.get_local``, ``follower.get_follower``,
``redis.get_server_link``, ``history.get_memory_history``), under this object's lock where
threads race (two threads committing at once build one outbox). Nothing here is class
state: two servers in one process (tests run several) keep separate parts.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from djira.delivery.follower import Follower
    from djira.delivery.history import MemoryHistory
    from djira.delivery.local import Addresses
    from djira.delivery.outbox import Outbox
    from djira.delivery.presence import LocalPresence
    from djira.delivery.processes import Snapshot
    from djira.delivery.redis import ServerLink


@dataclass(eq=False)
class Delivery:
    """What one server needs to deliver pushes; every part ``None`` until first used."""

    #: Names this server in the backend (presence entries, the registry of processes):
    #: per server, not per process, since a process may run several (tests do).
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    #: Pushes handed over by any thread, sent in order on the server's loop.
    outbox: Outbox | None = None
    #: Observer uid -> the (event, namespace) addresses this server's sockets subscribed to.
    addresses: Addresses | None = None
    #: The memory backend's per-room history (the other backends keep theirs in storage).
    history: MemoryHistory | None = None
    #: Who is present in which room, on this server.
    presence: LocalPresence | None = None
    #: The database backend's reader of the outbox table.
    follower: Follower | None = None
    #: The redis backend's link: its client, stream reader and health state.
    link: ServerLink | None = None
    #: (observer, room) whose push the database backend could not write from this loop:
    #: a ``reset`` push goes first once it can (djira.delivery.publishing).
    broken: set[tuple[str, str]] = field(default_factory=set)
    #: Renews presence and publishes ``snapshot`` (djira.delivery.processes).
    heartbeat: asyncio.Task[None] | None = None
    #: What the heartbeat publishes to the registry of live processes (the console's).
    snapshot: Snapshot | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
