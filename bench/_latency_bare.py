"""Mixed latency, bare side: bench/bare_app.py's ``articles`` handler, plus a ``slow`` one.

``slow`` runs ``SELECT pg_sleep(0.2)`` the way a developer writes it by hand: one
``sync_to_async`` call (thread-sensitive, asgiref's default), like the ``articles`` handler.

    uvicorn --app-dir example bench._latency_bare:application
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench._latency_settings")

from asgiref.sync import sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.bare_app import application, sio  # noqa: E402


def _sleep() -> dict[str, float]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [settings.SLOW_QUERY_SECONDS])
    return {"slept": settings.SLOW_QUERY_SECONDS}


async def slow(sid: str, payload: Any = None) -> Any:
    return await sync_to_async(_sleep)()


sio.on("slow", slow)

__all__ = ["application"]
