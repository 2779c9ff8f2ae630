"""``LiveServer``: your ASGI application under uvicorn in a subprocess, for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """Runs an ASGI app under uvicorn in a subprocess (``live_server`` is WSGI-only).

    :param app: uvicorn import string, e.g. ``"mysite.asgi:application"``.
    :param env: extra environment variables (``DJANGO_SETTINGS_MODULE``, database path...).
    """

    def __init__(
        self,
        app: str,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        cwd: str | None = None,
        startup_timeout: float = 20.0,
        log_path: str | None = None,
    ) -> None:
        self.app = app
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The uvicorn command line (override to add options or a wrapper)."""
        command = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1"]
        return command + ["--port", str(self.port), "--log-level", "warning", "--lifespan", "off"]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> LiveServer:
        """Start uvicorn and wait until it listens (no-op if already running)."""
        if self.running:
            return self
        command = self.command()
        output = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        self.process = subprocess.Popen(
            command, env=self.env, cwd=self.cwd, stdout=output, stderr=output
        )
        if output is not None:
            output.close()  # the child holds its own descriptor
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode} for {self.app}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"uvicorn did not listen on {self.port} within {self.startup_timeout}s")

    def read_log(self) -> str:
        """What the server wrote to stdout/stderr so far (needs ``log_path``)."""
        assert self.log_path, "LiveServer(log_path=...) keeps the server's output"
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LiveServer:
        return self.start()  # a server already started is used as it is

    def __exit__(self, *exc: object) -> None:
        self.stop()
