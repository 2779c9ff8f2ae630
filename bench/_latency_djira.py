"""Mixed latency, djira side: the example project as shipped, plus a ``slow`` hook.

Fast clients use the example's ``articles`` hook (a model retrieve); the slow client calls
``slow`` route ``sleep``, whose body runs ``SELECT pg_sleep(0.2)``, the same query as the
bare baseline's (bench/_latency_bare.py).

    uvicorn --app-dir example bench._latency_djira:application
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench._latency_settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from djira.decorators import action  # noqa: E402
from djira.hooks import APIHook  # noqa: E402


class SlowHook(APIHook):
    event = "slow"

    @action(actions=["GET"])
    def sleep(self, scope: Any) -> dict[str, float]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(%s)", [settings.SLOW_QUERY_SECONDS])
        return {"slept": settings.SLOW_QUERY_SECONDS}


from example.asgi import application  # noqa: E402, F401 - discovers SlowHook too
