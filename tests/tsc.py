"""TypeScript's compiler for tests: ``tsc --strict`` over generated modules and the samples.

"djira-client" (and "djira-client/react") resolve to the client's sources, and React's
types to the repository's dev dependencies, so that files anywhere compile as an
application's would. No Django here: e2e imports it too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TSC = ROOT / "node_modules" / "typescript" / "bin" / "tsc"
TYPES = ROOT / "node_modules" / "@types"


def compiler_options(*, sources: bool = True) -> dict[str, Any]:
    """Strict, ES2022 modules; with ``sources``, "djira-client" is client/src."""
    options: dict[str, Any] = {
        "target": "ES2022",
        "module": "ESNext",
        "moduleResolution": "Bundler",
        "lib": ["ES2022", "DOM"],
        "strict": True,
        "noEmit": True,
        "types": [],
        "skipLibCheck": True,
        "jsx": "react-jsx",
    }
    if sources:
        options["paths"] = {
            "djira-client": [str(ROOT / "client" / "src" / "client.ts")],
            "djira-client/react": [str(ROOT / "client" / "src" / "react.ts")],
            # For files outside the repository's node_modules (React's are dev deps).
            "react": [str(TYPES / "react" / "index.d.ts")],
            "react/jsx-runtime": [str(TYPES / "react" / "jsx-runtime.d.ts")],
        }
    return options


def tsc(directory: Path, *files: str, sources: bool = True) -> subprocess.CompletedProcess[str]:
    """Write ``directory/tsconfig.json`` for ``files`` (or ``src/``) and run tsc there."""
    if shutil.which("node") is None or not TSC.exists():
        pytest.skip("Node.js and `npm ci` are needed (make test installs them)")
    config: dict[str, Any] = {"compilerOptions": compiler_options(sources=sources)}
    config.update({"files": list(files)} if files else {"include": ["src"]})
    (directory / "tsconfig.json").write_text(json.dumps(config))
    return subprocess.run(
        ["node", str(TSC), "-p", "tsconfig.json", "--pretty", "false"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def compiles(directory: Path, *files: str, sources: bool = True) -> None:
    result = tsc(directory, *files, sources=sources)
    assert result.returncode == 0, result.stdout + result.stderr


def generate_for_example(*args: str, env: dict[str, str] | None = None) -> str:
    """``manage.py djira_typescript *args`` in example/, as a developer runs it; its stdout.

    :param env: the environment (the e2e example's, say); the current one, without this
        test run's ``DJANGO_SETTINGS_MODULE``, when left out.
    """
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "manage.py", "djira_typescript", *args],
        cwd=ROOT / "example",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
