"""A private PostgreSQL server for the tests: Debian's binaries, a temporary data directory,
a free port on 127.0.0.1, no password (``initdb -A trust``).

Three ways in:

- ``DJIRA_TEST_DATABASE=postgres python -m pytest tests``: tests/settings.py calls
  ``ensure_server()``, which starts a server for this process tree (stopped at exit) unless
  ``DJIRA_TEST_PG_PORT`` names a running one.
- ``python -m tests._postgres CMD...`` (what ``make test`` does): start a server, run ``CMD``
  with ``DJIRA_TEST_DATABASE=postgres`` and ``DJIRA_TEST_PG_PORT`` set, stop the server
  whatever happens (failure, Ctrl-C, SIGTERM), exit with ``CMD``'s status.
- ``PostgresServer().start()`` in a test, for a server the test may stop and restart.

As root the server runs as the ``postgres`` user (``su postgres -c``): PostgreSQL refuses to
run as root.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HOST = "127.0.0.1"
USER = "postgres"
# Durability costs time and buys nothing for a throw-away test database.
_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def bin_dir() -> Path:
    """Where ``pg_ctl`` lives: ``DJIRA_PG_BIN``, Debian's newest version, or ``PATH``."""
    if os.environ.get("DJIRA_PG_BIN"):
        return Path(os.environ["DJIRA_PG_BIN"])
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): run "
        "scripts/system-deps.sh, or set DJIRA_PG_BIN"
    )


def available() -> bool:
    try:
        bin_dir()
    except RuntimeError:
        return False
    return True


class PostgresServer:
    """One ``postgres`` process on a data directory of its own; ``stop()`` removes it all."""

    def __init__(self, port: int | None = None) -> None:
        from djira.testing import free_port

        self.bin = bin_dir()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="djira-pg-"))
        # Data and Unix socket in one directory only the server's user can enter.
        self.data = self.root / "data"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            try:
                account = pwd.getpwnam(USER)
            except KeyError:
                raise RuntimeError("running as root needs a 'postgres' user") from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._initialised = False

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bin / command[0]), *command[1:]]
        if self._as_root:
            argv = ["su", USER, "-s", "/bin/sh", "-c", shlex.join(argv)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{command[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                f"\n{self.log()}"
            )
        return result

    def log(self) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return (
            self._initialised
            and self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0
        )

    def start(self) -> PostgresServer:
        """``initdb`` on first use, then start and wait until connections are accepted."""
        if not self._initialised:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                USER,
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            )
            self._initialised = True
        options = f"-p {self.port} -k {self.data} -c listen_addresses={HOST} {_FAST}"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions, disconnect every client)."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def restart(self) -> None:
        """What an operator does: ``pg_ctl stop -m fast``, then start again on the same port."""
        self.stop("fast")
        self.start()

    def createdb(self, name: str) -> None:
        self._run("createdb", "-h", HOST, "-p", str(self.port), "-U", USER, name)

    def destroy(self) -> None:
        """Stop the server and delete its data directory."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """The variables tests/settings.py reads to use this server."""
        return {
            "DJIRA_TEST_DATABASE": "postgres",
            "DJIRA_TEST_PG_HOST": HOST,
            "DJIRA_TEST_PG_PORT": str(self.port),
        }


def ensure_server() -> tuple[str, int]:
    """``(host, port)`` of the test server: the one in the environment, or a new one.

    A new one is exported in ``os.environ`` so that the uvicorn servers the tests start
    (subprocesses) use it too, and destroyed when this process exits.
    """
    if not os.environ.get("DJIRA_TEST_PG_PORT"):
        server = PostgresServer().start()
        atexit.register(server.destroy)
        os.environ.update(server.env())
    return os.environ.get("DJIRA_TEST_PG_HOST", HOST), int(os.environ["DJIRA_TEST_PG_PORT"])


def main(argv: list[str]) -> int:
    """``python -m tests._postgres CMD...``: run ``CMD`` with a private server."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    server = PostgresServer()

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the ``finally`` below

    signal.signal(signal.SIGTERM, terminate)
    try:
        server.start()
        print(f"PostgreSQL on {HOST}:{server.port} ({server.root})", file=sys.stderr)
        return subprocess.run(argv, env={**os.environ, **server.env()}, check=False).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        server.destroy()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
