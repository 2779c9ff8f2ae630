"""Publishing through the database backend, from any process and any thread.

``publish`` writes the messages' rows now: inside the caller's transaction when one is open
on the outbox's database (so they commit or roll back with it), and numbers them once that
transaction commits. ``publish_async`` does the same from a server's loop, on a worker
thread. Numbered rows are handed to this process's server, if it runs one, so its sockets
get them without waiting for its next read of the table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction

from djira.delivery import database
from djira.delivery.history import stream_key

if TYPE_CHECKING:
    from djira.delivery.messages import Message
    from djira.server import DjiraServer

logger = logging.getLogger("djira")


def _rows(messages: Sequence[Message]) -> list[tuple[str | None, str]]:
    from djira.delivery.messages import Push

    return [
        (stream_key(m.observer, m.room) if isinstance(m, Push) else None, database.encode(m))
        for m in messages
    ]


def _history_size() -> int:
    from djira.settings import jira_settings

    return int(jira_settings.HISTORY_SIZE)


def in_transaction() -> bool:
    """Whether a transaction is open on the outbox's database in this thread."""
    return transaction.get_connection(database.ALIAS).in_atomic_block


def write(messages: Sequence[Message]) -> list[int]:
    """Write the rows of ``messages`` (in the open transaction, if any); their ids."""
    return database.write(_rows(messages))


def publish(messages: Sequence[Message], server: DjiraServer | None = None) -> None:
    """Write ``messages`` now; number and hand them over once committed. Sync code only."""
    ids = write(messages)
    if in_transaction():
        transaction.on_commit(partial(committed, ids, server), using=database.ALIAS)
    else:
        committed(ids, server)


def committed(ids: list[int], server: DjiraServer | None = None) -> None:
    """Number the rows ``ids`` (their transaction committed); hand them to this server.

    If numbering fails (the database went away just now), the rows stay unnumbered and a
    server numbers them within seconds (``database.ORPHAN_AFTER``): late, never lost.
    """
    try:
        rows = database.number(ids, _history_size())
    except Exception:
        logger.exception("djira could not number %d outbox row(s); a server will", len(ids))
        return
    hand_over(rows, server)


def hand_over(rows: list[database.Row], server: DjiraServer | None = None) -> None:
    from djira.delivery import get_server

    if not rows:
        return
    server = server if server is not None else get_server()
    follower = server.delivery.follower
    if follower is not None:
        follower.accept_soon(rows)


def _write_and_number(messages: Sequence[Message]) -> list[database.Row]:
    return database.number(write(messages), _history_size())


async def publish_async(messages: Sequence[Message], server: DjiraServer) -> None:
    """``publish`` from the server's loop (a coroutine): written and numbered on a worker.

    Pushes made on the loop (presence's join and leave, emits from async code) have no
    transaction to fail with: if the database cannot take them, their rooms' sockets here
    get a ``reset`` push at once, and once the database takes writes again a ``reset`` row
    goes first, for every server's sockets and for catch-ups from before it. A lost push is
    never silent.
    """
    from djira.delivery.follower import get_follower
    from djira.delivery.local import deliver_locally
    from djira.delivery.messages import Push
    from djira.sync import run_sync

    broken = server.delivery.broken
    resets = [Push(observer, room, "reset", None) for observer, room in sorted(broken)]
    try:
        rows = await run_sync(_write_and_number, [*resets, *messages])
    except Exception:
        logger.exception("djira could not write %d push(es) to its outbox", len(messages))
        lost = {(m.observer, m.room) for m in messages if isinstance(m, Push)}
        for observer, room in sorted(lost - broken):
            await deliver_locally(server, Push(observer, room, "reset", None))
        broken |= lost
        return
    broken.difference_update((r.observer, r.room) for r in resets)
    get_follower(server).accept(rows)
