"""docs/deployment.md's uvicorn and gunicorn commands, nginx configuration, systemd unit and
container, run on a project set up by the quickstart.

The gunicorn line runs as written but for two workers and the port; pushes reach subscribers
on both workers through the quickstart's default delivery backend (the database). The
page's nginx server blocks (tests/test_nginx.py's ``Nginx``) front the page's uvicorn line
and serve the project's ``collectstatic`` output.

The unit and the Dockerfile come from the page. The unit is checked by ``systemd-analyze
verify`` and its ``ExecStart`` run as systemd would run it; the Dockerfile's commands run
outside a container (no image can be pulled here): ``RUN`` lines but ``pip install`` and
``useradd`` (this environment has the packages and runs as its own user), the migration of
the page's ``docker run`` line, ``CMD`` and ``HEALTHCHECK``'s command. Only the port (and
the container's ``0.0.0.0``, since tests listen on 127.0.0.1 only) and the paths of
``/srv/mysite`` are swapped.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import socketio

from djira.testing import SocketCommunicator, free_port
from tests.docblocks import DOCS, blocks
from tests.docproject import BIN, follow_quickstart, project_env

PAGE = DOCS / "deployment.md"


def page_block(name: str) -> str:
    (block,) = [b for b in blocks(PAGE) if b.tag == "test" and b.args == name]
    return block.code


def static_root_line() -> str:
    """``STATIC_ROOT = ...`` as the page's "Static files" section sets it."""
    (line,) = [
        line
        for block in blocks(PAGE)
        for line in block.code.splitlines()
        if line.startswith("STATIC_ROOT = ")
    ]
    return line


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    cwd, _serve, token = follow_quickstart(tmp_path_factory.mktemp("deploy"))
    with open(cwd / "mysite" / "settings.py", "a", encoding="utf-8") as settings:
        settings.write(f"\n{static_root_line()}\n")
    return cwd, token


class Server:
    """A server command started as a process manager would, stopped by a signal."""

    def __init__(self, command: list[str], *, cwd: Path, env: dict[str, str], port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while fetch(f"{self.url}/djira/health/ready")[0] != 200:
            if self.process.poll() is not None:
                raise AssertionError(f"exited:\n{self.process.stdout.read().decode()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "not ready in time"
            time.sleep(0.1)

    def stop(self, signum: int = signal.SIGTERM, within: float = 10) -> float:
        """Send ``signum``; return how long the process took to exit."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(within)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"still running {within}s after signal {signum}") from None
        return time.monotonic() - started


def fetch(url: str) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None, ""


async def request_notes(url: str, token: str) -> dict:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, auth={"token": token}, wait_timeout=10)
    try:
        return await client.call("notes", {"action": "GET"})
    finally:
        await client.disconnect()


# systemd


def unit(project_dir: Path) -> str:
    """The page's unit, for this project and this environment."""
    code = page_block("systemd")
    code = code.replace("/srv/mysite/venv/bin/", f"{BIN}/")
    return code.replace("/srv/mysite", str(project_dir))


def service_section(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser["Service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_unit_verifies(project, tmp_path):
    path = tmp_path / "mysite.service"
    path.write_text(unit(project[0]), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


async def test_the_units_command_serves_and_stops_in_time(project):
    project_dir, token = project
    service = service_section(unit(project_dir))
    port = free_port()
    command = [str(port) if arg == "8000" else arg for arg in shlex.split(service["ExecStart"])]
    assert command.count(str(port)) == 1, command
    name, _, value = service["Environment"].partition("=")
    server = Server(
        command,
        cwd=Path(service["WorkingDirectory"]),
        env={**project_env(), name: value},
        port=port,
    )
    try:
        server.wait_ready()
        reply = await request_notes(server.url, token)
        assert reply["status"] == 200
        # A connected socket must not hold the stop beyond systemd's patience.
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(server.url, auth={"token": token}, transports=["websocket"])
        took = server.stop(
            getattr(signal, service["KillSignal"]), within=float(service["TimeoutStopSec"])
        )
        # uvicorn ends by its signal once shut down: a clean stop to systemd (and Docker).
        assert server.process.returncode in (0, -signal.SIGTERM)
        assert took < float(service["TimeoutStopSec"])
        await client.disconnect()
    finally:
        server.stop(signal.SIGKILL)


# Containers


def dockerfile() -> list[tuple[str, str]]:
    """The page's Dockerfile as (instruction, arguments), continuation lines joined."""
    joined = page_block("container").replace("\\\n", " ")
    instructions = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, arguments = line.strip().partition(" ")
            instructions.append((instruction.upper(), arguments.strip()))
    return instructions


def container_env() -> dict[str, str]:
    env = {}
    for instruction, arguments in dockerfile():
        if instruction == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(arguments))
    return env


def swap_port(command: list[str], port: int) -> list[str]:
    swapped = [
        arg.replace("0.0.0.0", "127.0.0.1").replace(":8000/", f":{port}/") for arg in command
    ]
    return [str(port) if arg == "8000" else arg for arg in swapped]


def test_the_dockerfile_runs_what_the_test_runs():
    kinds = [instruction for instruction, _ in dockerfile()]
    assert {"RUN", "CMD", "HEALTHCHECK"} <= set(kinds)
    runs = [arguments for instruction, arguments in dockerfile() if instruction == "RUN"]
    left_out = [run for run in runs if run.startswith(("pip install", "useradd"))]
    assert len(left_out) == 2, runs  # everything else runs below


async def test_the_containers_commands_build_migrate_serve_and_health_check(project):
    project_dir, token = project
    env = {**project_env(), **container_env()}

    def run(command: list[str]) -> None:
        result = execute(command, cwd=project_dir, env=env)
        assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}{result.stderr}"

    for instruction, arguments in dockerfile():
        if instruction == "RUN" and not arguments.startswith(("pip install", "useradd")):
            run(shlex.split(arguments))
    assert (project_dir / "staticfiles" / "djira" / "js" / "client.js").exists()
    # The page's migration: what follows the image's name in its `docker run --rm` line.
    (migrate,) = [
        shlex.split(line) for line in page_block("container-run").splitlines() if " --rm " in line
    ]
    run(migrate[migrate.index("mysite") + 1 :])

    port = free_port()
    (cmd,) = [json.loads(a) for instruction, a in dockerfile() if instruction == "CMD"]
    (healthcheck,) = [a for instruction, a in dockerfile() if instruction == "HEALTHCHECK"]
    probe = swap_port(json.loads(healthcheck[healthcheck.index("CMD ") + 4 :]), port)
    server = Server(swap_port(cmd, port), cwd=project_dir, env=env, port=port)
    try:
        server.wait_ready()
        assert (await request_notes(server.url, token))["status"] == 200
        run(probe)
    finally:
        server.stop()
    assert execute(probe, cwd=project_dir, env=env).returncode != 0  # stopped: unhealthy


def execute(command: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


# gunicorn


def gunicorn_command(port: int) -> list[str]:
    """The page's gunicorn line, with two workers instead of four and this test's port."""
    (line,) = [line for line in page_block("gunicorn").splitlines() if line.startswith("gunicorn")]
    swaps = {"4": "2", "127.0.0.1:8000": f"127.0.0.1:{port}"}
    command = [swaps.get(arg, arg) for arg in shlex.split(line)]
    assert command.count("2") == 1 and f"127.0.0.1:{port}" in command, command
    return command


def connections_by_worker(master: int, port: int) -> list[int]:
    """How many established connections to ``port`` each child of ``master`` holds, read
    from ``/proc`` (the kernel hands each new connection to any worker)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(f"socket:[{fields[9]}]")
    counts = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != master:
                continue
            fds = (stat.parent / "fd").iterdir()
            counts.append(sum(1 for fd in fds if _readlink(fd) in inodes))
    return sorted(counts)


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


@pytest.mark.skipif(not (BIN / "gunicorn").exists(), reason="pip install gunicorn uvicorn-worker")
async def test_gunicorns_workers_serve_and_pushes_reach_every_subscriber(project):
    # The page's command in the quickstart's project, on its default delivery backend (the
    # database): a note created through one connection, and one saved by `manage.py
    # shell`, reach subscribers on every worker.
    project_dir, token = project
    port = free_port()
    server = Server(gunicorn_command(port), cwd=project_dir, env=project_env(), port=port)
    clients: list[SocketCommunicator] = []
    try:
        server.wait_ready()
        # Idle workers race for each new connection and one may win them all: connect in
        # batches, each subscribing at once (work that keeps its worker busy), until both
        # workers hold some.
        spread: list[int] = []
        for _ in range(20):
            batch = await asyncio.gather(
                *(SocketCommunicator(server.url, token=token).connect() for _ in range(4))
            )
            clients.extend(batch)
            replies = await asyncio.gather(
                *(c.request("notes", namespace="subscribe", action="SUBSCRIPTION") for c in batch)
            )
            assert all(reply["status"] == 200 for reply in replies), replies
            spread = connections_by_worker(server.process.pid, port)
            if len(spread) == 2 and min(spread) > 0:
                break
        print(f"\nconnections by gunicorn worker: {spread}")
        assert len(spread) == 2 and min(spread) > 0 and sum(spread) == len(clients), spread

        created = await clients[0].request("notes", action="POST", data={"text": "Via a worker"})
        assert created["status"] == 201, created
        shell = execute(
            [
                "python",
                "manage.py",
                "shell",
                "-c",
                "from django.contrib.auth import get_user_model\n"
                "from notes.models import Note\n"
                "owner = get_user_model().objects.get(username='admin')\n"
                "Note.objects.create(owner=owner, text='Via a shell')",
            ],
            cwd=project_dir,
            env=project_env(),
        )
        assert shell.returncode == 0, shell.stdout + shell.stderr
        for client in clients:
            texts = [(await client.receive("notes", timeout=10))["data"]["text"] for _ in "ab"]
            assert sorted(texts) == ["Via a shell", "Via a worker"], texts
    finally:
        for client in clients:
            await client.disconnect()
        server.stop()


# nginx (tests/test_nginx.py runs the same configuration against this repository's test
# project, for what only its hooks can show: the scheme and the address the server saw)


def uvicorn_command(port: int) -> list[str]:
    """The page's uvicorn line ("Serving with uvicorn") on ``port``."""
    (line,) = [
        line
        for block in blocks(PAGE)
        for line in block.code.splitlines()
        if line.startswith("uvicorn mysite.asgi:application")
    ]
    return [str(port) if arg == "8000" else arg for arg in shlex.split(line)]


@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="needs nginx and openssl (apt)",
)
async def test_nginx_in_front_of_the_project_serves_sockets_pushes_and_static_files(
    project, tmp_path
):
    from tests.test_nginx import Nginx, TLSCommunicator, insecure

    project_dir, token = project
    result = execute(
        ["python", "manage.py", "collectstatic", "--noinput"], cwd=project_dir, env=project_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    port = free_port()
    server = Server(uvicorn_command(port), cwd=project_dir, env=project_env(), port=port)
    proxy = None
    try:
        server.wait_ready()
        proxy = Nginx(tmp_path, f"127.0.0.1:{port}", static=project_dir / "staticfiles")
        async with TLSCommunicator(proxy.url, token=token) as client:
            assert client.client.transport() == "websocket"
            subscribed = await client.request("notes", namespace="subscribe", action="SUBSCRIPTION")
            assert subscribed["status"] == 200, subscribed
            created = await client.request("notes", action="POST", data={"text": "Via nginx"})
            assert created["status"] == 201, created
            push = await client.receive("notes")
            assert (push["type"], push["data"]["text"]) == ("create", "Via nginx")
        shipped = (project_dir / "staticfiles" / "djira" / "js" / "client.js").read_bytes()
        url = f"{proxy.url}/static/djira/js/client.js"

        def read() -> bytes:
            with urllib.request.urlopen(url, context=insecure()) as reply:
                return reply.read()

        assert await asyncio.to_thread(read) == shipped
    finally:
        if proxy is not None:
            proxy.stop()
        server.stop()
