"""The garbage-collector tuning applied when djira's ASGI app is built (djira.runtime).

``gc.freeze()`` and thresholds are process-wide, so each case runs in its own interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_SCRIPT = """
import gc, json, sys
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework",
                    "djira.apps.DJiraConfig"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    DJIRA_SETTINGS=json.loads(sys.argv[1]),
)
django.setup()
from djira.asgi import get_asgi_application
from djira.consumer import Consumer
from djira.server import create_server
before = {"frozen": gc.get_freeze_count(), "threshold": list(gc.get_threshold())}
Consumer(create_server()).start()  # a consumer alone (a shell, an admin view) tunes nothing
started = list(gc.get_threshold())
get_asgi_application(consumer=Consumer(create_server()), discover=False)
after = {"frozen": gc.get_freeze_count(), "threshold": list(gc.get_threshold())}
gc.set_threshold(123)
get_asgi_application(consumer=Consumer(create_server()), discover=False)  # tuned once only
print(json.dumps({"before": before, "started": started, "after": after,
                  "again": list(gc.get_threshold())}))
"""


def _start_a_consumer(djira_settings: dict[str, object]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(djira_settings)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def test_by_default_start_up_is_frozen_and_young_collections_are_rarer():
    result = _start_a_consumer({})
    assert result["before"]["frozen"] == 0
    assert result["started"] == result["before"]["threshold"]
    # Everything Django and djira loaded is out of the collector's way.
    assert result["after"]["frozen"] > 10_000
    assert result["after"]["threshold"] == [25_000, 10, 10]
    assert result["again"] == [123, 10, 10]


@pytest.mark.parametrize(
    ("djira_settings", "frozen", "threshold"),
    [
        ({"GC_FREEZE": False, "GC_THRESHOLD": None}, False, None),
        ({"GC_FREEZE": False}, False, [25_000, 10, 10]),
        ({"GC_THRESHOLD": [50_000, 20]}, True, [50_000, 20, 10]),
    ],
)
def test_each_setting_can_be_turned_off_or_changed(djira_settings, frozen, threshold):
    result = _start_a_consumer(djira_settings)
    assert (result["after"]["frozen"] > 0) is frozen
    # None: the interpreter's own thresholds, untouched.
    assert result["after"]["threshold"] == (threshold or result["before"]["threshold"])


async def test_a_live_server_runs_with_its_start_up_frozen(connect):
    # The test server (tests/asgi.py, default GC settings) under uvicorn, asked over Socket.IO.
    client = await connect()
    reply = await client.request("runtime", namespace="gc")
    assert reply["status"] == 200
    assert reply["data"]["frozen"] > 10_000
    assert reply["data"]["threshold"] == [25_000, 10, 10]
