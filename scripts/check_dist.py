"""Check what ``make dist`` built, by installing each file where nothing else is.

    python scripts/check_dist.py dist

- The wheel and the sdist: each into a new virtual environment (``pip install
  "FILE[server]"``, dependencies from the package index), then, outside this checkout,
  djira is imported from that environment with its templates and static files, a new
  ``django-admin startproject`` is set up as the quickstart says, passes ``manage.py
  check``, migrates, and its ``manage.py runserver`` answers the readiness endpoint, the
  Socket.IO handshake and the JS client.
- The npm tarball: installed with npm into a throw-away package, whose ES module imports
  ``connect`` and ``DjiraError`` from ``djira-client`` and finds its type declarations.

Exits non-zero, saying what failed, if anything does. Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = """
INSTALLED_APPS.insert(0, "djira.apps.DJiraConfig")
INSTALLED_APPS += ["django_htmx", "rest_framework", "rest_framework.authtoken"]
MIDDLEWARE += ["django_htmx.middleware.HtmxMiddleware"]
DJIRA_SETTINGS = {}
ASGI_APPLICATION = "mysite.asgi.application"
"""
ASGI = """import os

from djira.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_asgi_application()
"""
PACKAGE_FILES = ["py.typed", "static/djira/js/client.js", "templates/djira/admin/base.html"]


def say(message: str) -> None:
    print(f"check_dist: {message}", flush=True)


def run(command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        raise SystemExit(
            f"check_dist: {' '.join(map(str, command))} failed in {cwd}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


def the_one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"check_dist: expected one {pattern} in {dist}, found {found}")
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str) -> tuple[int | None, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None, b""


def check_python(path: Path, version: str, work: Path) -> None:
    """Install ``path`` with the ``server`` extra into a new venv; serve a new project."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=work)
    bin_dir = venv / "bin"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV"}
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(venv)
    run([bin_dir / "python", "-m", "pip", "install", "-q", f"{path}[server]"], cwd=work, env=env)

    found = run(
        [
            bin_dir / "python",
            "-c",
            "import importlib.metadata, pathlib, djira, uvicorn; "
            "print(importlib.metadata.version('djira-realtime')); "
            "print(pathlib.Path(djira.__file__).parent)",
        ],
        cwd=work,
        env=env,
    ).split()
    if found[0] != version or not found[1].startswith(str(venv)):
        raise SystemExit(f"check_dist: {path.name}: got djira {found} from outside {venv}")
    missing = [name for name in PACKAGE_FILES if not (Path(found[1]) / name).is_file()]
    if missing:
        raise SystemExit(f"check_dist: {path.name} lacks {missing}")

    run([bin_dir / "django-admin", "startproject", "mysite"], cwd=work, env=env)
    project = work / "mysite"
    with open(project / "mysite" / "settings.py", "a", encoding="utf-8") as settings:
        settings.write(SETTINGS)
    (project / "mysite" / "asgi.py").write_text(ASGI, encoding="utf-8")
    run([bin_dir / "python", "manage.py", "check", "--fail-level", "WARNING"], cwd=project, env=env)
    run([bin_dir / "python", "manage.py", "migrate", "-v", "0"], cwd=project, env=env)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [bin_dir / "python", "manage.py", "runserver", "--noreload", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while fetch(f"{base}/djira/health/ready")[0] != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                output = server.communicate()[0].decode(errors="replace")
                raise SystemExit(f"check_dist: {path.name}: runserver did not serve:\n{output}")
            time.sleep(0.2)
        status, body = fetch(f"{base}/socket.io/?EIO=4&transport=polling")
        if status != 200 or not body.startswith(b"0{"):
            raise SystemExit(f"check_dist: {path.name}: no Socket.IO handshake ({status})")
        if fetch(f"{base}/static/djira/js/client.js")[0] != 200:
            raise SystemExit(f"check_dist: {path.name}: the JS client is not served")
    finally:
        server.terminate()
        server.wait(20)
    say(f"{path.name}: installed, checked, served by runserver")


def check_npm(path: Path, version: str, work: Path) -> None:
    """Install the tarball into a throw-away package and import it as an application does."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("check_dist: npm is needed to check the npm tarball")
    (work / "package.json").write_text(
        json.dumps({"name": "check-djira-client", "private": True, "type": "module"}),
        encoding="utf-8",
    )
    run([npm, "install", "--no-audit", "--no-fund", path], cwd=work)
    package = work / "node_modules" / "djira-client"
    manifest = json.loads((package / "package.json").read_text(encoding="utf-8"))
    if manifest["version"] != version:
        raise SystemExit(f"check_dist: {path.name} is version {manifest['version']}")
    if not (package / "dist" / "client.d.ts").is_file():
        raise SystemExit(f"check_dist: {path.name} has no type declarations")
    (work / "main.js").write_text(
        'import { connect, DjiraError } from "djira-client";\n'
        'if (typeof connect !== "function" || typeof DjiraError !== "function") {\n'
        '  throw new Error("djira-client exports no connect or DjiraError");\n'
        "}\n",
        encoding="utf-8",
    )
    run([shutil.which("node") or "node", "main.js"], cwd=work)
    say(f"{path.name}: installed with npm, imported")


def main(dist: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    client = json.loads((ROOT / "client" / "package.json").read_text(encoding="utf-8"))
    wheel = the_one(dist, "djira_realtime-*.whl")
    sdist = the_one(dist, "djira_realtime-*.tar.gz")
    tarball = the_one(dist, "djira-client-*.tgz")
    with tempfile.TemporaryDirectory(prefix="djira-dist-") as tmp:
        for name, check, path, expected in [
            ("wheel", check_python, wheel, version),
            ("sdist", check_python, sdist, version),
            ("npm", check_npm, tarball, client["version"]),
        ]:
            work = Path(tmp) / name
            work.mkdir()
            check(path.resolve(), expected, work)
    say(f"all good: {wheel.name}, {sdist.name}, {tarball.name} in {dist}/")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist"))
