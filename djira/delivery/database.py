"""The database backend: a transactional outbox that is also the rooms' history.

Three steps, each in the process best placed for it:

1. **Write** (the saving process, inside the change's transaction): each push or emit becomes
   an ``Outbox`` row, unnumbered. The row commits or rolls back with the change, so a push
   exists if and only if its change committed, whichever process saved (a server, a shell,
   a worker, a WSGI process) and even if that process dies right after the commit.
2. **Number** (a short transaction of its own, right after the commit, by the process that
   wrote; or by any server for rows left unnumbered by a process that died): the rows get
   their room's next ``offset`` and the next global ``seq``. Numbering locks the global
   ``Stream`` row first, so numbering transactions run one at a time and ``seq`` grows in
   commit order: a reader that has read up to ``seq`` N never sees a row below N appear later.
   Rows are numbered after their transaction commits, so a room's offsets follow the order
   its changes committed in, and they are contiguous (nothing numbered is ever rolled back).
3. **Read** (every server): rows with ``seq`` above the last one it delivered, in order. A
   server's own rows are handed to its loop at once (no wait for the next read); the others
   arrive on its next read: it polls every ``DELIVERY_POLL_INTERVAL`` seconds, and is woken
   at once by PostgreSQL ``NOTIFY`` where available.

The table is the history too: a client's catch-up reads its room's rows after its offset.
Rows are trimmed per room past ``HISTORY_SIZE`` while numbering, and by age past
``HISTORY_TTL`` by the servers.

Every room shares the database's epoch (the global row's), so a room nobody pushed to yet
has a position (offset 0) without any row being written for it: subscribing stores nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.db import IntegrityError, connections, transaction
from django.db.models import F

from djira import json as djira_json
from djira.delivery.models import Outbox, Stream

logger = logging.getLogger("djira")

#: The database that holds the outbox: changes on other aliases are written there after
#: they commit (they cannot share its transaction).
ALIAS = "default"
GLOBAL = ""
#: Rows a server reads per query, and numbers per transaction when catching up leftovers.
BATCH = 500
#: A row still unnumbered this long after it was written belongs to a process that died
#: between its commit and its numbering: any server numbers it.
ORPHAN_AFTER = 2.0
#: Emits (no room, no history) are kept this long (seconds), for servers that read late.
EMIT_TTL = 60.0
NOTIFY_CHANNEL = "djira_outbox"
#: A room's old rows are deleted once every this many pushes to it.
TRIM_STEP = 16


class Row(NamedTuple):
    """A numbered outbox row, as servers deliver it."""

    seq: int
    stream: str | None
    offset: int | None
    epoch: str
    payload: str


def digest(stream_key: str) -> str:
    """The ``stream`` column for a room's stream key (fixed length, any room name)."""
    return hashlib.sha1(stream_key.encode(), usedforsecurity=False).hexdigest()


def new_epoch() -> str:
    import uuid

    return uuid.uuid4().hex[:12]


# -- 1. write ----------------------------------------------------------------------------------


_ready = False


def ready() -> bool:
    """Whether the outbox's tables exist (checked until they do; said once if not)."""
    global _ready
    if not _ready:
        tables = connections[ALIAS].introspection.table_names()
        _ready = Outbox._meta.db_table in tables and Stream._meta.db_table in tables
        if not _ready and not _warned[0]:
            _warned[0] = True
            logger.error(
                "djira's outbox tables are missing: run `python manage.py migrate` (djira's "
                "delivery backend is 'database'). Pushes are not written until then."
            )
    return _ready


_warned = [False]


def write(rows: Iterable[tuple[str | None, str]]) -> list[int]:
    """Insert ``(stream key or None, payload)`` rows, unnumbered; return their ids.

    Runs in the caller's transaction on ``ALIAS``, if one is open: that is the point.
    """
    now = time.time()
    objects = [
        Outbox(created=now, stream=None if key is None else digest(key), payload=payload)
        for key, payload in rows
    ]
    if not objects:
        return []
    if connections[ALIAS].features.can_return_rows_from_bulk_insert:
        return [o.id for o in Outbox.objects.using(ALIAS).bulk_create(objects)]
    for o in objects:  # MySQL: no ids back from a bulk insert
        o.save(using=ALIAS)
    return [o.id for o in objects]


def discard(ids: Sequence[int]) -> None:
    """Drop rows written earlier in the same transaction (a change merged into a later one)."""
    if ids:
        Outbox.objects.using(ALIAS).filter(id__in=ids, seq__isnull=True).delete()


# -- 2. number ---------------------------------------------------------------------------------


def _global() -> Stream:
    """The global row, locked for this transaction (created on first use, or after a flush)."""
    manager = Stream.objects.using(ALIAS)
    if manager.filter(key=GLOBAL).update(top=F("top")) == 0:
        try:
            with transaction.atomic(using=ALIAS):
                manager.create(key=GLOBAL, epoch=new_epoch(), top=0)
        except IntegrityError:
            manager.filter(key=GLOBAL).update(top=F("top"))  # created meanwhile: lock it
    return manager.get(key=GLOBAL)


def number(ids: Sequence[int] | None, history_size: int) -> list[Row]:
    """Number the committed, unnumbered rows among ``ids`` (``None``: orphans); return them.

    Rows another process numbered meanwhile are skipped: whoever numbers a row first wins.
    A handful of statements whatever the number of rows and rooms: this runs after every
    commit that pushed.
    """
    query = Outbox.objects.using(ALIAS).filter(seq__isnull=True)
    if ids is not None:
        if not ids:
            return []
        query = query.filter(id__in=ids)
    else:
        query = query.filter(created__lt=time.time() - ORPHAN_AFTER)
        if not query.exists():  # servers look every second: no lock when nothing is left
            return []
    with transaction.atomic(using=ALIAS):
        head = _global()  # one numbering transaction at a time, in commit order
        pending = list(query.order_by("id").values_list("id", "stream", "payload")[:BATCH])
        if not pending:
            return []
        # ``HISTORY_SIZE`` 0: no history, so no room offsets (pushes carry no position).
        numbered = history_size > 0
        keys = sorted({s for _, s, _ in pending if s is not None and numbered})
        streams = Stream.objects.using(ALIAS)
        tops = dict(streams.filter(key__in=keys).values_list("key", "top")) if keys else {}
        new = [Stream(key=key, epoch=head.epoch, top=0) for key in keys if key not in tops]
        if new:
            streams.bulk_create(new)
            tops.update((stream.key, 0) for stream in new)
        before = dict(tops)
        seq = head.top
        updates: list[tuple[int, int | None, int]] = []
        rows = []
        for row_id, stream_key, payload in pending:
            seq += 1
            offset = None
            if stream_key is not None and numbered:
                offset = tops[stream_key] = tops[stream_key] + 1
            updates.append((seq, offset, row_id))
            rows.append(Row(seq, stream_key if numbered else None, offset, head.epoch, payload))
        _execute_many(Outbox, ("seq", "offset"), "id", updates)
        _execute_many(Stream, ("top",), "key", [(seq, GLOBAL), *((t, k) for k, t in tops.items())])
        # A room keeps its last ``HISTORY_SIZE`` pushes: trimmed each time its offset passes
        # a multiple of ``TRIM_STEP`` (up to that many more rows, a statement per step).
        trim = [
            (key, top - history_size)
            for key, top in tops.items()
            if top - history_size > 0 and top // TRIM_STEP > before[key] // TRIM_STEP
        ]
        for key, upto in trim:
            Outbox.objects.using(ALIAS).filter(stream=key, offset__lte=upto).delete()
        _notify()
    return rows


def _execute_many(
    model: type[Outbox] | type[Stream],
    columns: Sequence[str],
    key: str,
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """``UPDATE <table> SET <columns> WHERE <key> = %s`` for each row (values, then key).

    One prepared statement for all rows: ``bulk_update``'s ``CASE`` expressions cost more in
    Python than the statements themselves, on the path every commit takes.
    """
    connection = connections[ALIAS]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(key)} = %s"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _notify() -> None:
    """Wake PostgreSQL listeners when this transaction commits (no-op elsewhere)."""
    connection = connections[ALIAS]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])


# -- 3. read -----------------------------------------------------------------------------------


def head() -> tuple[str, int]:
    """The database's epoch and last global ``seq`` (``("", 0)`` before any push)."""
    found = Stream.objects.using(ALIAS).filter(key=GLOBAL).values_list("epoch", "top").first()
    return (found[0], found[1]) if found else ("", 0)


def read_after(seq: int) -> tuple[str, int, list[Row]]:
    """The epoch, the last ``seq`` and up to ``BATCH`` numbered rows after ``seq``."""
    epoch, top = head()
    if top <= seq:
        return epoch, top, []
    found = (
        Outbox.objects.using(ALIAS)
        .filter(seq__gt=seq)
        .order_by("seq")
        .values_list("seq", "stream", "offset", "payload")[:BATCH]
    )
    return epoch, top, [Row(s, k, o, epoch, p) for s, k, o, p in found if s is not None]


def epoch() -> str:
    """The database's epoch, set when first asked (one row, whatever the rooms)."""
    found = head()[0]
    if found:
        return found
    with transaction.atomic(using=ALIAS):
        return _global().epoch


def history(keys: Sequence[str], since: dict[str, int]) -> dict[str, tuple[str, int, list[Any]]]:
    """Per stream key: epoch, top offset and the kept ``(offset, created, payload)`` after
    ``since[key]`` (none when ``key`` is not in ``since``: none are needed)."""
    digests = {key: digest(key) for key in keys}
    # The rooms' tops and the global row's epoch in one statement (a subscription's query).
    found = Stream.objects.using(ALIAS).filter(key__in=[GLOBAL, *digests.values()])
    tops: dict[str, int] = {}
    current = ""
    for key, stream_epoch, top in found.values_list("key", "epoch", "top"):
        if key == GLOBAL:
            current = stream_epoch
        else:
            tops[key] = top
    current = current or epoch()  # before the first push: set once
    out: dict[str, tuple[str, int, list[Any]]] = {}
    for key, hashed in digests.items():
        top = tops.get(hashed, 0)
        entries: list[Any] = []
        if key in since and since[key] < top:
            entries = list(
                Outbox.objects.using(ALIAS)
                .filter(stream=hashed, offset__gt=since[key])
                .order_by("offset")
                .values_list("offset", "created", "payload")
            )
        out[key] = (current, top, entries)
    return out


def trim(ttl: float) -> int:
    """Drop numbered rows older than their time to live; the number dropped."""
    now = time.time()
    numbered = Outbox.objects.using(ALIAS).filter(seq__isnull=False)
    dropped = numbered.filter(stream__isnull=False, created__lt=now - max(ttl, EMIT_TTL)).delete()
    emits = numbered.filter(stream__isnull=True, created__lt=now - EMIT_TTL).delete()
    return dropped[0] + emits[0]


def encode(message: Any) -> str:
    from djira.delivery.messages import to_wire

    return djira_json.dumps(to_wire(message))
