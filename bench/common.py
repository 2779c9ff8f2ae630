"""Shared helpers for djira's benchmark scripts (requests.py, fanout.py, recording.py).

The server runs under uvicorn pinned to CPU 0; the load comes from a separate driver process
pinned to CPU 1, so the two never compete for a core. All traffic goes to 127.0.0.1.

Stable API (import as ``from bench.common import ...`` with the repository root on
``sys.path``, or ``from common import ...`` from a script in this directory)::

    REPO, EXAMPLE_DIR                      paths of the checkout and of the example project
    seed_database(db_path, articles=1000, users=False) -> range     pks of the seeded articles
    server_env(db_path, **extra) -> dict[str, str]   env for the example settings on that DB
    start_server(app, env, *, cpu=0, app_dir=EXAMPLE_DIR) -> LiveServer   started; .stop() it
    drive(url, clients, duration, make_payload, event, *, ...) -> Stats
    cpu_seconds(pid) -> float | None       user+system CPU time of a process so far
    percentile(sorted_values, q) -> float
    print_table(headers, rows) -> None

``make_payload(client_index, sequence)`` builds each request's payload and ``check(reply)``
says whether a reply counts as a success; on Linux the driver is forked, so lambdas work
(elsewhere they must be picklable, module-level functions).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = REPO / "example"
if str(REPO) not in sys.path:  # ``djira.testing`` from this checkout, even when not installed
    sys.path.insert(1, str(REPO))

from djira.testing import LiveServer  # noqa: E402 - needs REPO on sys.path

__all__ = [
    "EXAMPLE_DIR",
    "REPO",
    "PinnedServer",
    "Stats",
    "cpu_seconds",
    "drive",
    "percentile",
    "print_table",
    "seed_database",
    "server_env",
    "start_server",
]

PayloadFactory = Callable[[int, int], Any]
ReplyCheck = Callable[[Any], bool]


# -- database and server ----------------------------------------------------------------------


def server_env(db_path: str | os.PathLike[str], **extra: str) -> dict[str, str]:
    """Environment for a process using the example settings on ``db_path``.

    ``DJANGO_DEBUG`` is off (DEBUG keeps every SQL query in memory); the checkout and the
    example project come first on ``PYTHONPATH`` after any path the caller already set, so a
    scratch copy of the repository benchmarks its own ``djira``.
    """
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {
        "DJANGO_SETTINGS_MODULE": "example.settings",
        "DJIRA_EXAMPLE_DB": str(db_path),
        "DJANGO_DEBUG": "0",
        "PYTHONPATH": os.pathsep.join([*paths, str(REPO), str(EXAMPLE_DIR)]),
    }
    env.update(extra)
    return env


_SEED = """
import io
from django.core.management import call_command
from django.db.models import Max, Min
from blog.models import Article
call_command({command!r}, {args}stdout=io.StringIO())
missing = {articles} - Article.objects.count()
Article.objects.bulk_create(
    [Article(title=f"Article {{i}}", body="Lorem ipsum dolor sit amet. " * 8, published=i % 2 == 0)
     for i in range(max(missing, 0))],
    batch_size=500,
)
bounds = Article.objects.aggregate(low=Min("pk"), high=Max("pk"))
print("PKS", bounds["low"], bounds["high"])
"""


def seed_database(
    db_path: str | os.PathLike[str],
    articles: int = 1000,
    users: bool = False,
    env: Mapping[str, str] | None = None,
) -> range:
    """Migrate ``db_path`` and fill it with ``articles`` articles; return their pk range.

    :param users: also create the demo users and tokens (``manage.py demo --no-serve``);
        slower, because of password hashing.
    :param env: variables added to ``server_env(db_path)``, e.g. another settings module.
    """
    command, args = ("demo", "no_serve=True, ") if users else ("migrate", "verbosity=0, ")
    code = _SEED.format(command=command, args=args, articles=int(articles))
    result = subprocess.run(
        [sys.executable, str(EXAMPLE_DIR / "manage.py"), "shell", "-c", code],
        env={**os.environ, **server_env(db_path), **(env or {})},
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("PKS ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"seeding {db_path} failed:\n{result.stdout}\n{result.stderr}")
    low, high = (int(v) for v in lines[-1].split()[1:])
    return range(low, high + 1)


def _pin_prefix(cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None or cpu >= (os.cpu_count() or 1):
        return []
    return ["taskset", "-c", str(cpu)]


class PinnedServer(LiveServer):
    """``djira.testing.LiveServer`` started under ``taskset -c <cpu>`` (when available)."""

    def __init__(
        self,
        app: str,
        *,
        env: Mapping[str, str],
        cpu: int | None,
        app_dir: Path,
        uvicorn_args: Sequence[str] = (),
    ) -> None:
        # cwd is the app directory, not the checkout: ``python -m`` puts cwd first on
        # sys.path, which would shadow a ``djira`` placed first on PYTHONPATH.
        # A busy shared machine can take tens of seconds to import Django and the project.
        super().__init__(app, env=env, cwd=str(app_dir), startup_timeout=120.0)
        self.uvicorn_args = list(uvicorn_args)
        self.cpu = cpu
        self.app_dir = app_dir
        self.pinned = bool(_pin_prefix(cpu))

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        command = [*_pin_prefix(self.cpu), sys.executable, "-m", "uvicorn", self.app]
        command += ["--app-dir", str(self.app_dir), "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--log-level", "warning", "--lifespan", "off"]
        return command + ["--no-access-log", *self.uvicorn_args]


def start_server(
    app: str,
    env: Mapping[str, str],
    *,
    cpu: int | None = 0,
    app_dir: Path = EXAMPLE_DIR,
    uvicorn_args: Sequence[str] = (),
) -> PinnedServer:
    """Start ``app`` (a uvicorn import string) on a free port of 127.0.0.1, pinned to ``cpu``.

    Returns the started server (a ``LiveServer``: ``.url``, ``.stop()``, usable as a context
    manager; ``.pid`` for ``cpu_seconds``/profilers). ``cpu=None`` leaves it unpinned;
    ``uvicorn_args`` are added to uvicorn's command line (e.g. ``["--ws", "wsproto"]``).
    """
    server = PinnedServer(app, env=env, cpu=cpu, app_dir=app_dir, uvicorn_args=uvicorn_args)
    server.start()
    return server


@contextlib.contextmanager
def servers_started(
    specs: Mapping[str, tuple[str, Mapping[str, str]]],
) -> Iterator[dict[str, PinnedServer]]:
    """Start one pinned server per ``name: (app, env)``; stop them all on the way out."""
    servers: dict[str, PinnedServer] = {}
    try:
        for name, (app, env) in specs.items():
            servers[name] = start_server(app, env)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (all threads), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- statistics -------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of already sorted values, linearly interpolated."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


class LatencyStats:
    """p50/p99 in milliseconds of ``self.latencies`` (sorted seconds)."""

    latencies: list[float]

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000


@dataclass
class Stats(LatencyStats):
    """What one ``drive()`` measured (after warm-up).

    ``latencies`` are sorted seconds, one per request; ``elapsed`` is the measured wall time;
    ``driver_cpu`` the driver's CPU seconds in that time; ``server_cpu`` the server's (when
    its pid was given and ``/proc`` exists).
    """

    clients: int
    elapsed: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    driver_cpu: float = 0.0
    server_cpu: float | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def driver_load(self) -> float:
        """Fraction of one core the driver used: near 1.0 means the driver was the limit."""
        return self.driver_cpu / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def server_us_per_request(self) -> float | None:
        """Server CPU microseconds per request: the cost, independent of idle time."""
        if self.server_cpu is None or not self.requests:
            return None
        return self.server_cpu / self.requests * 1e6

    @classmethod
    def merge(cls, runs: Sequence[Stats]) -> Stats:
        """Pool several runs (e.g. rounds) into one: times add up, latencies are pooled."""
        server = [r.server_cpu for r in runs]
        return cls(
            clients=runs[0].clients,
            elapsed=sum(r.elapsed for r in runs),
            latencies=sorted(v for r in runs for v in r.latencies),
            errors=sum(r.errors for r in runs),
            driver_cpu=sum(r.driver_cpu for r in runs),
            server_cpu=None if None in server else sum(s or 0.0 for s in server),
        )


def add_run_options(parser: Any, *, duration: float, rounds: int = 3) -> None:
    """The options every load benchmark takes: levels, timing, rounds, seeded rows."""
    parser.add_argument("--clients", default="64", help="comma-separated levels (default 64)")
    parser.add_argument(
        "--duration", type=float, default=duration, help=f"seconds per run ({duration:g})"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds (2)")
    parser.add_argument(
        "--rounds", type=int, default=rounds, help=f"runs per mode and level ({rounds})"
    )
    parser.add_argument("--articles", type=int, default=1000, help="rows seeded (1000)")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print an aligned text table (text left-aligned, numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:] if row[i]) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip()

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("x%"))
    except ValueError:
        return False
    return True


# -- load driver ------------------------------------------------------------------------------


def drive(
    url: str,
    clients: int,
    duration: float,
    make_payload: PayloadFactory,
    event: str,
    *,
    warmup: float = 1.0,
    requests: int | None = None,
    cpu: int | None = 1,
    check: ReplyCheck | None = None,
    server_pid: int | None = None,
    timeout: float = 10.0,
    auth: Any = None,
) -> Stats:
    """Load ``url`` from a separate process pinned to ``cpu`` and return what it measured.

    ``clients`` python-socketio ``AsyncClient``s (websocket transport) connect, then each
    sends one request at a time on ``event`` asking for an acknowledgement, and sends the
    next when the ack arrives. Requests sent during the first ``warmup`` seconds are not
    counted; measuring stops after ``duration`` seconds or ``requests`` requests, whichever
    comes first. A request with no ack within ``timeout`` seconds, or whose reply fails
    ``check``, counts as an error. ``server_pid`` adds the server's CPU time to the stats.
    """
    context: Any = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    receiver, sender = context.Pipe(duplex=False)
    options = {
        "url": url,
        "clients": clients,
        "duration": duration,
        "make_payload": make_payload,
        "event": event,
        "warmup": warmup,
        "requests": requests,
        "check": check,
        "server_pid": server_pid,
        "timeout": timeout,
        "auth": auth,
    }
    process = context.Process(target=_driver_main, args=(sender, cpu, options), daemon=True)
    process.start()
    sender.close()
    limit = warmup + duration + 3 * timeout + 0.2 * clients + 30
    try:
        if not receiver.poll(limit):
            raise RuntimeError(f"load driver gave no result within {limit:.0f}s")
        result = receiver.recv()
    except EOFError:
        raise RuntimeError(f"load driver died (exit code {process.exitcode})") from None
    finally:
        process.join(5)
        if process.is_alive():
            process.terminate()
            process.join(5)
    if isinstance(result, str):
        raise RuntimeError(f"load driver failed:\n{result}")
    assert isinstance(result, Stats)
    return result


def _driver_main(sender: Connection, cpu: int | None, options: dict[str, Any]) -> None:
    try:
        if cpu is not None and hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
            os.sched_setaffinity(0, {cpu})
        try:
            import uvloop
        except ImportError:
            stats = asyncio.run(_drive(**options))
        else:
            stats = uvloop.run(_drive(**options))
        sender.send(stats)
    except BaseException:
        sender.send(traceback.format_exc())
    finally:
        sender.close()


async def _drive(
    *,
    url: str,
    clients: int,
    duration: float,
    make_payload: PayloadFactory,
    event: str,
    warmup: float,
    requests: int | None,
    check: ReplyCheck | None,
    server_pid: int | None,
    timeout: float,  # noqa: ASYNC109 - a per-request ack timeout, not the call's
    auth: Any,
) -> Stats:
    import socketio

    sockets = [socketio.AsyncClient(reconnection=False) for _ in range(clients)]
    await asyncio.gather(
        *(
            s.connect(url, transports=["websocket"], auth=auth, wait_timeout=timeout)
            for s in sockets
        )
    )
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    budget = requests if requests is not None else -1
    start = loop.time() + warmup
    end = start + duration
    marks: dict[str, float | None] = {}

    def mark(name: str) -> None:
        marks[name + "_wall"] = time.perf_counter()
        marks[name + "_cpu"] = time.process_time()
        marks[name + "_server"] = cpu_seconds(server_pid)

    loop.call_at(start, mark, "start")

    async def client(index: int, sio: socketio.AsyncClient) -> None:
        nonlocal errors, budget
        sequence = 0
        while True:
            sent = loop.time()
            if sent >= end or budget == 0:
                return
            measured = sent >= start
            if measured and budget > 0:
                budget -= 1
            payload = make_payload(index, sequence)
            sequence += 1
            began = time.perf_counter()
            try:
                reply = await sio.call(event, payload, timeout=timeout)
                ok = check is None or bool(check(reply))
            except socketio.exceptions.TimeoutError:
                ok = False
            if measured:
                latencies.append(time.perf_counter() - began)
                errors += not ok

    try:
        await asyncio.gather(*(client(i, s) for i, s in enumerate(sockets)))
        mark("end")
    finally:
        await asyncio.wait_for(
            asyncio.gather(*(s.disconnect() for s in sockets), return_exceptions=True), timeout
        )
    if "start_wall" not in marks:  # the budget ran out before warm-up ended
        return Stats(clients=clients, elapsed=0.0)
    server_start, server_end = marks["start_server"], marks["end_server"]
    return Stats(
        clients=clients,
        elapsed=float(marks["end_wall"] or 0) - float(marks["start_wall"] or 0),
        latencies=sorted(latencies),
        errors=errors,
        driver_cpu=float(marks["end_cpu"] or 0) - float(marks["start_cpu"] or 0),
        server_cpu=(
            None if server_start is None or server_end is None else server_end - server_start
        ),
    )
