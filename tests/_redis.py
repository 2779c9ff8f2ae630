"""Run a command with a private redis-server: ``python -m tests._redis CMD...``.

What ``make test`` runs tests/observers with for the redis delivery backend: the server
listens on a free port of 127.0.0.1, without persistence; ``DJIRA_REDIS_URL`` names it (so
tests/settings.py sets ``REDIS_URL``, and the backend defaults to redis); it is stopped
whatever happens, and the exit status is ``CMD``'s.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from djira.testing.live import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisProcess:
    """``redis-server`` on 127.0.0.1, no persistence; can be stopped and restarted."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m tests._redis CMD...", file=sys.stderr)
        return 2
    server = RedisProcess().start()
    env = {**os.environ, "DJIRA_REDIS_URL": server.url}
    env["DJIRA_TEST_SUITE_BACKEND"] = "redis"  # tests of another backend's guarantees skip
    child = subprocess.Popen(argv, env=env)
    # SIGTERM (CI cancelling the run) reaches the child; the server stops in ``finally``.
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        return child.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
