"""The example project's settings with djira's telemetry as bench/telemetry.py sets it.

``DJIRA_BENCH_TELEMETRY``: ``off`` (the default), ``metrics``, ``tracing``, ``sampled``
(tracing, one request in ten recorded) or ``both``.
"""

import os

from example.settings import *  # noqa: F403
from example.settings import DJIRA_SETTINGS

_MODE = os.environ.get("DJIRA_BENCH_TELEMETRY", "off")
if _MODE != "off":
    DJIRA_SETTINGS = {
        **DJIRA_SETTINGS,
        "METRICS": _MODE in ("metrics", "both"),
        "TRACING": _MODE in ("tracing", "sampled", "both"),
    }
