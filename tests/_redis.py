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
        #: More ``redis-server`` arguments (a cluster node's).
        self.extra: list[str] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", *self.extra]
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


class RedisCluster:
    """A Redis Cluster of three masters on 127.0.0.1 (``redis-server --cluster-enabled``,
    joined by ``redis-cli --cluster create``), without persistence."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.nodes = [RedisProcess(_cluster_port()) for _ in range(3)]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.extra = [
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"{self.directory}/nodes-{node.port}.conf",
                "--dir", self.directory,
            ]  # fmt: skip
            node.start()
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = subprocess.run(
                [cli, "-p", str(self.nodes[0].port), "cluster", "info"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout
            if "cluster_state:ok" in info:
                return self
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not become ready")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _cluster_port() -> int:
    """A free port whose cluster bus port (10,000 above it) is a port, and free too."""
    while True:
        port = free_port()
        if port + 10_000 > 65_535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
