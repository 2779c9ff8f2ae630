"""Hold observed changes until their transaction commits, one entry per row.

Every change registers a small marker with ``transaction.on_commit``. The first marker of a
transaction to run flushes the whole batch; a change is sent only if one of its markers is
still alive at that moment. Django drops the markers of a rolled-back transaction or
savepoint from its list of commit hooks, and the batch keeps only weak references to them,
so a rolled-back change has no live marker and is never sent.

Coalescing per row gives one push per row and transaction, with the state at commit:
``create`` then ``update`` is a ``create``; ``update`` then ``delete`` is a ``delete``;
``create`` then ``delete`` sends nothing.

With the database delivery backend, a change's pushes are also written to the outbox
inside the transaction, as soon as the change is recorded (and written again, replacing
the first rows, when a later change of the same row merges into it): a process that dies
right after its commit leaves them behind for a server to deliver. The flush then only
numbers the rows (``djira.delivery.publishing``).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

logger = logging.getLogger("djira")

CREATE, UPDATE, DELETE = "create", "update", "delete"


@dataclass(eq=False)
class Change:
    """One row's (or one signal's) pending change, as it stands so far in its transaction."""

    observer: Any
    key: Hashable
    type: str | None  # None: created and deleted in the same transaction, send nothing
    instance: Any = None
    #: Rooms and instance before the transaction (``None`` when the observer does not track
    #: room moves, or the row is new).
    old_rooms: list[str] | None = None
    old_instance: Any = None
    #: Payload and rooms taken at signal time (deletes, generic signals), when the state
    #: would be gone by commit.
    data: Any = None
    rooms: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    markers: list[weakref.ref[_Marker]] = field(default_factory=list)
    #: Ids of this change's rows in the database backend's outbox, once written.
    outbox: list[int] = field(default_factory=list)

    def merge(self, later: Change) -> None:
        """Fold a later change of the same row into this one."""
        first, then = self.type, later.type
        if first in (CREATE, None):
            # The row did not exist before the transaction: subscribers never saw it.
            self.type = None if then == DELETE else CREATE
        else:
            self.type = UPDATE if then == CREATE else then
        if first == UPDATE and self.old_rooms is None:
            self.old_rooms, self.old_instance = later.old_rooms, later.old_instance
        self.instance = later.instance
        self.data = later.data
        self.rooms = later.rooms
        self.extra = later.extra

    @property
    def alive(self) -> bool:
        return any(ref() is not None for ref in self.markers)


class _Marker:
    """The callable registered with ``on_commit`` for one change (see module docstring)."""

    __slots__ = ("batch", "__weakref__")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def __call__(self) -> None:
        self.batch.flush()


class Batch:
    """The observed changes of one transaction on one database alias."""

    def __init__(self, using: str) -> None:
        self.using = using
        self.changes: dict[tuple[int, Hashable], Change] = {}
        self.markers: list[weakref.ref[_Marker]] = []
        self.done = False

    @property
    def alive(self) -> bool:
        return not self.done and any(ref() is not None for ref in self.markers)

    def add(self, change: Change) -> None:
        marker = _Marker(self)
        ref = weakref.ref(marker)
        self.markers.append(ref)
        slot = (id(change.observer), change.key)
        current = self.changes.get(slot)
        if current is None:
            change.markers.append(ref)
            current = self.changes[slot] = change
        else:
            current.merge(change)
            current.markers.append(ref)
        if self.writes_rows:
            _write(current)
        # Strongly held by Django's list of commit hooks only: dropped on rollback.
        transaction.on_commit(marker, using=self.using)

    @property
    def writes_rows(self) -> bool:
        """Whether pushes go to the outbox in this transaction (database backend, its alias)."""
        from djira.delivery.backends import get_backend
        from djira.delivery.database import ALIAS

        return self.using == ALIAS and get_backend().writes_in_transaction

    def flush(self) -> None:
        if self.done:
            return
        self.done = True
        if _local.batches.get(self.using) is self:
            del _local.batches[self.using]
        alive = [c for c in self.changes.values() if c.type is not None and c.alive]
        if self.writes_rows:
            from djira.delivery.publishing import committed

            committed([row for change in alive for row in change.outbox])
            return
        deliver(alive)


class _Local(threading.local):
    def __init__(self) -> None:
        # Django connections are per thread, and so are their transactions.
        self.batches: dict[str, Batch] = {}


_local = _Local()


def record(change: Change, using: str | None = None) -> None:
    """Queue ``change`` for delivery once the current transaction on ``using`` commits.

    Outside a transaction it is delivered at once, as ``on_commit`` would run it.
    """
    alias = using or "default"
    connection = transaction.get_connection(alias)
    if not connection.in_atomic_block:
        if change.type is not None:
            deliver([change])
        return
    batch = _local.batches.get(alias)
    if batch is None or not batch.alive:
        batch = _local.batches[alias] = Batch(alias)
    batch.add(change)


def pending(observer: Any, key: Hashable, using: str | None = None) -> Change | None:
    """The change already queued for this row in the open transaction, if any."""
    batch = _local.batches.get(using or "default")
    if batch is None or not batch.alive:
        return None
    change = batch.changes.get((id(observer), key))
    return change if change is not None and change.alive else None


def _write(change: Change) -> None:
    """(Re)write ``change``'s pushes in the open transaction (database backend)."""
    from djira.delivery import database, publishing

    if not database.ready():
        return  # not migrated: said once; nothing is written into the caller's transaction
    try:
        pushes = change.observer.pushes_of([change]) if change.type is not None else []
    except Exception:
        logger.exception("djira observer %r failed on a %s change", change.observer, change.type)
        return
    # Not in a savepoint (two more statements a save): the tables exist, and a statement
    # that fails on them means the caller's transaction fails too, as it should.
    database.discard(change.outbox)
    change.outbox = publishing.write(pushes)


def deliver(changes: list[Change]) -> None:
    """Turn committed changes into pushes; an observer's error is logged, never raised."""
    by_observer: dict[int, tuple[Callable[[list[Change]], None], list[Change]]] = {}
    for change in changes:
        entry = by_observer.setdefault(id(change.observer), (change.observer.deliver, []))
        entry[1].append(change)
    for handler, items in by_observer.values():
        try:
            handler(items)
        except Exception:
            logger.exception("djira observer %r failed to deliver a change", items[0].observer)
