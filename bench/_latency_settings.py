"""The example project's settings on PostgreSQL, for bench/latency.py.

Everything else (apps, hooks, DJIRA_SETTINGS) is the example's; ``DJIRA_BENCH_*`` variables,
set by bench/latency.py, name the server and the knobs a run varies.
"""

import os

from example.settings import *  # noqa: F403
from example.settings import DJIRA_SETTINGS

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": os.environ.get("DJIRA_BENCH_PG_PORT", "5432"),
        "USER": "postgres",
        "NAME": "djira_bench",
        # Persistent connections, as production deployments on PostgreSQL use: with 0 each
        # unit of work would pay a new connection, which is not what this measures.
        "CONN_MAX_AGE": int(os.environ.get("DJIRA_BENCH_CONN_MAX_AGE", "60")),
    }
}
if os.environ.get("DJIRA_BENCH_WORKER_THREADS"):
    DJIRA_SETTINGS = {
        **DJIRA_SETTINGS,
        "WORKER_THREADS": int(os.environ["DJIRA_BENCH_WORKER_THREADS"]),
    }

# How long the slow request's query sleeps (``SELECT pg_sleep(...)``).
SLOW_QUERY_SECONDS = float(os.environ.get("DJIRA_BENCH_SLOW_SECONDS", "0.2"))
