"""Hooks for tests/test_database.py: report the database connection's state, and misbehave
with transactions the way a careless action body might."""

from __future__ import annotations

import threading
from typing import Any

from django.db import connection, transaction

from djira.decorators import action
from djira.hooks import APIHook

from .models import Book

# Barriers of the ``rendezvous`` route, by key: requests meeting there must run at once.
_barriers: dict[str, threading.Barrier] = {}
_barriers_lock = threading.Lock()


def connection_state() -> dict[str, Any]:
    """What the request's thread and connection look like, after one query."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    raw = connection.connection
    if connection.vendor == "postgresql":
        from psycopg.pq import TransactionStatus

        in_transaction = raw.info.transaction_status != TransactionStatus.IDLE
        backend = raw.info.backend_pid
    else:
        in_transaction = raw.in_transaction
        backend = None
    return {
        "thread": threading.get_ident(),
        "autocommit": connection.get_autocommit(),
        "in_atomic_block": connection.in_atomic_block,
        "in_transaction": in_transaction,
        "backend": backend,
    }


class DatabaseHook(APIHook):
    @action(actions=["GET"])
    def state(self, scope: Any) -> dict[str, Any]:
        return connection_state()

    @action(actions=["POST"])
    def rendezvous(self, scope: Any) -> dict[str, Any]:
        """Waits (3 s at most) until ``data.parties`` requests with ``data.key`` are here."""
        key, parties = str(scope.data["key"]), int(scope.data["parties"])
        with _barriers_lock:
            barrier = _barriers.setdefault(key, threading.Barrier(parties, timeout=3))
        barrier.wait()  # BrokenBarrierError (a 500) if the others never come
        return connection_state()

    @action(actions=["POST"])
    def leak_autocommit(self, scope: Any) -> dict[str, Any]:
        """Turns autocommit off, writes, and returns without committing or restoring it."""
        transaction.set_autocommit(False)
        Book.objects.create(title=scope.data["title"])
        return connection_state()

    @action(actions=["POST"])
    def leak_failed_transaction(self, scope: Any) -> None:
        """Turns autocommit off, then fails a query: the transaction is left aborted."""
        transaction.set_autocommit(False)
        Book.objects.create(title=scope.data["title"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM djira_no_such_table")

    @action(actions=["POST"])
    def fail_in_atomic(self, scope: Any) -> None:
        with transaction.atomic():
            Book.objects.create(title=scope.data["title"])
            raise RuntimeError("rolled back")
