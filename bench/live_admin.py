"""What a live admin costs a save, with and without a changelist watching it.

    python bench/live_admin.py                  # SQLite (a temporary file, WAL)
    python bench/live_admin.py --postgres       # a private PostgreSQL (tests/_postgres.py)
    python bench/live_admin.py --saves 300 --watchers 10

One process updates ``tests.testapp`` ``Book`` rows, one transaction per save, in four
phases (the default delivery backend, the database outbox):

- **plain**: Book's admin is a plain ``ModelAdmin`` and nothing observes Book;
- **live, unwatched**: the admin has ``LiveModelAdminMixin``; no page is open, so the
  saving process, reading the "anyone watching" flag at most once a second
  (djira.admin.live.watching), writes no push;
- **live, 1 watcher** and **live, N watchers**: a real server (uvicorn, another process)
  follows the outbox, and staff sessions hold the changelist's subscription; each watcher,
  told of a change, asks the admin for the row as the page's script does (the rows view).
  The next save waits until every watcher has the row, so the figures do not overlap.

It prints, per phase, the saving process's queries per save and the latency of one save
(``transaction.atomic`` + ``save``, including the outbox numbering after the commit) at p50
and p99; for watched phases, the time from the commit to every watcher holding the rendered
row (p50, p99). On SQLite a server reads the outbox every ``DELIVERY_POLL_INTERVAL`` (0.25 s);
PostgreSQL wakes it at once (NOTIFY).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.99))]


class Watchers:
    """``n`` staff sessions holding the changelist's live subscription, on their own loop."""

    def __init__(self, url: str, cookies: list[str], n: int) -> None:
        self.url, self.cookies, self.n = url, cookies[:n], n
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.expected: str | None = None
        self.done = threading.Event()
        self.seen = 0
        self.run(self._start())

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        import aiohttp
        import socketio

        self.http = aiohttp.ClientSession(headers={"Cookie": self.cookies[0]})
        self.clients = []
        for cookie in self.cookies:  # a session each, as a browser each
            headers = {"Cookie": cookie}
            client = socketio.AsyncClient(reconnection=False)
            client.on("djira-admin-live", self._on_push)
            await client.connect(self.url, headers=headers, transports=["websocket"])
            reply = await client.call(
                "djira-admin-live",
                {
                    "namespace": "changelist",
                    "action": "SUBSCRIPTION",
                    "data": {"model": "testapp.book"},
                },
            )
            assert reply["status"] == 200, reply
            self.clients.append(client)
        self.renewing = asyncio.ensure_future(self._renew())

    async def _renew(self) -> None:
        """What the page's script does while it is open: keep the model's flag raised."""
        from djira.admin.live.watching import RENEW

        while True:
            await asyncio.sleep(RENEW)
            for client in self.clients:
                await client.call(
                    "djira-admin-live",
                    {"namespace": "watching", "action": "GET", "data": {"model": "testapp.book"}},
                )

    async def _on_push(self, push: dict) -> None:
        if push.get("type") not in ("create", "update", "delete"):
            return
        pk = push["data"]["pk"]
        url = f"{self.url}/admin/testapp/book/djira-live/rows/?_djira_pks={pk}"
        async with self.http.get(url) as response:
            reply = await response.json()
        cells = reply["rows"].get(str(pk), "")
        if self.expected is not None and self.expected in cells:
            self.seen += 1
            if self.seen == self.n:
                self.done.set()

    def expect(self, title: str) -> None:
        self.done.clear()
        self.seen = 0
        self.expected = title

    def close(self) -> None:
        async def stop() -> None:
            self.renewing.cancel()
            for client in self.clients:
                await client.disconnect()
            await self.http.close()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def save_round(
    label: str, saves: int, watchers: Watchers | None
) -> tuple[float, float, float, float, float]:
    """Queries per save, save p50/p99 (ms), delivery p50/p99 (ms; 0 without watchers)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from tests.testapp.models import Book

    book = Book.objects.first()
    assert book is not None
    times, delivered, queries = [], [], 0
    for i in range(saves):
        title = f"{label} {i} {time.perf_counter_ns()}"
        if watchers is not None:
            watchers.expect(title)
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            with transaction.atomic():
                book.title = title
                book.save()
            committed = time.perf_counter()
        times.append(committed - t0)
        queries += len(captured.captured_queries)
        if watchers is not None:
            assert watchers.done.wait(30), f"{label}: save {i} never reached every watcher"
            delivered.append(time.perf_counter() - committed)
    p50, p99 = percentiles(times)
    d50, d99 = percentiles(delivered) if delivered else (0.0, 0.0)
    return queries / saves, p50 * 1000, p99 * 1000, d50 * 1000, d99 * 1000


def create_database() -> None:
    """On PostgreSQL, the settings' database (tests/_postgres.py starts an empty server)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    name = connection.settings_dict["NAME"]
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')


def child(saves: int, watchers: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from bench import _live_admin_site
    from djira.admin.live import watching
    from djira.testing import LiveServer
    from tests.testapp.models import Book

    create_database()
    call_command("migrate", verbosity=0)
    Book.objects.create(title="bench")
    boss = get_user_model().objects.create_superuser("boss", password="pw")
    cookies = []
    for _ in range(watchers):
        client = Client()
        client.force_login(boss)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session}")

    rows = []
    _live_admin_site.register(live=False)
    rows.append(("plain", save_round("plain", saves, None)))
    _live_admin_site.register(live=True)
    rows.append(("live, unwatched", save_round("unwatched", saves, None)))
    server = LiveServer("bench._live_admin_app:application", cwd=str(ROOT)).start()
    try:
        for n in dict.fromkeys((1, watchers)):
            group = Watchers(server.url, cookies, n)
            # This process trusts its last read of "nobody watches" for CACHE seconds; the
            # pages reload their rows once that has passed (djira.admin.live.watching).
            time.sleep(watching.CACHE)
            try:
                label = f"live, {n} watcher{'s' * (n > 1)}"
                rows.append((label, save_round(f"w{n}", saves, group)))
            finally:
                group.close()
    finally:
        server.stop()

    from django.db import connection

    print(f"database: {connection.vendor}; {saves} saves a phase")
    head = f"{'queries':>8} {'save p50':>9} {'p99':>7} {'to watchers p50':>16} {'p99':>7}"
    print(f"{'phase':<20} {head}")
    for label, (q, p50, p99, d50, d99) in rows:
        to = f"{d50:>16.1f} {d99:>7.1f}" if d50 else f"{'-':>16} {'-':>7}"
        print(f"{label:<20} {q:>8.1f} {p50:>9.3f} {p99:>7.3f} {to}")
    print("(ms; queries: the saving process's, per save, the outbox's numbering included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--watchers", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.saves, args.watchers)
        return
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench._live_admin_settings",
        "PYTHONPATH": str(ROOT),
        "DJIRA_TEST_DELIVERY_BACKEND": "database",
        # A heartbeat interval (the tests' settings leave it out): the live admin's "is
        # anyone watching" flags are shared through the database, as in a deployment.
        "DJIRA_TEST_HEARTBEAT": "1",
    }
    # As a module: run as a script, bench/ would come first on the path, and its requests.py
    # would shadow the requests package python-engineio imports.
    command = [sys.executable, "-m", "bench.live_admin", "--child"]
    command += ["--saves", str(args.saves), "--watchers", str(args.watchers)]
    if args.postgres:
        env["DJIRA_TEST_DATABASE"] = "postgres"
        command = [sys.executable, "-m", "tests._postgres", *command]
    else:
        env["DJIRA_TEST_DB"] = str(Path(tempfile.mkdtemp()) / "live-admin-bench.sqlite3")
    subprocess.run(command, env=env, cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
