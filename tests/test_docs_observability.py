"""docs/observability.md as a reader runs it, in a new project built from the docs' steps.

The quickstart's project, then the steps of every page before this one and this page's
own (tests/docproject.py): the metrics view appended to ``mysite/urls.py``, ``METRICS``
(with its token from the environment) and ``TRACING`` served as settings blocks, and the
page's ``gunicorn.conf.py``. Prometheus is played by a plain HTTP client. Nothing of this
repository's test settings reaches the project.
"""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request

import pytest

from djira.testing import SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import READER_PROJECT_MARKS, Project, reader_project, served, session_cookie

PAGE = "observability.md"
SCRAPER = "a-scraper-secret"
# Python blocks that are not steps of the project, and why (each says so in its marker).
NOT_STEPS = {"OTLPSpanExporter": "needs opentelemetry-exporter-otlp, not installed here"}

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    project = reader_project(tmp_path_factory.mktemp("observability"), PAGE)
    project.env["DJIRA_METRICS_TOKEN"] = SCRAPER  # what the settings block reads
    return project


@pytest.fixture(scope="module")
def users(project) -> dict[str, dict]:
    return project.create_users(alice={}, sue={"is_staff": True})


default = served(None, "users")
metrics = served("metrics", "users")
tracing = served("tracing", "users")


def get(url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def scrape(server, **headers: str) -> tuple[int, str]:
    return await asyncio.to_thread(get, f"{server.url}/djira/metrics", headers)


def test_every_python_sample_is_a_step_or_says_why_not():
    python = [b for b in blocks(DOCS / PAGE) if b.lang == "python" and b.tag != "project"]
    assert all(b.tag == "test" and b.args.startswith("skip ") for b in python)
    assert sorted(next(k for k in NOT_STEPS if k in b.code) for b in python) == sorted(NOT_STEPS)


async def test_prometheus_scrapes_with_the_token(metrics, users):
    async with SocketCommunicator(metrics.url, token=users["alice"]["token"]) as client:
        assert (await client.request("notes"))["status"] == 200
    status, text = await scrape(metrics, Authorization=f"Bearer {SCRAPER}")
    assert status == 200
    assert re.search(
        r'^djira_requests_total\{hook="notes",route="list",status="200",verb="GET"\} 1\.0$',
        text,
        re.M,
    ), text
    assert re.search(r'^djira_handshakes_total\{status="200"\} 1\.0$', text, re.M)


async def test_the_view_answers_staff_and_the_token_only(project, metrics, default, users):
    assert (await scrape(metrics))[0] == 401
    assert (await scrape(metrics, Authorization="Bearer not-it"))[0] == 401
    alice = session_cookie(project, "alice")
    assert (await scrape(metrics, Cookie=alice))[0] == 403
    sue = session_cookie(project, "sue")
    assert (await scrape(metrics, Cookie=sue))[0] == 200
    # METRICS off (the project's own settings): 404 for everyone.
    assert (await scrape(default, Authorization=f"Bearer {SCRAPER}"))[0] == 404


def test_the_gunicorn_hook_is_importable(project):
    printed = project.run(
        [
            "python",
            "-c",
            "import runpy; print(callable(runpy.run_path('gunicorn.conf.py')['child_exit']))",
        ]
    )
    assert printed.strip() == "True"


async def test_tracing_without_an_sdk_records_nothing_and_breaks_nothing(tracing, users):
    async with SocketCommunicator(tracing.url, token=users["alice"]["token"]) as client:
        created = await client.request("notes", action="POST", data={"text": "Traced"})
    assert created["status"] == 201
    assert "Traceback" not in tracing.read_log()
