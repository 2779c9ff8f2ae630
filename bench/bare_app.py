"""The baseline: a bare python-socketio handler over the example project, written naively.

It serves the ``articles`` event with what a developer would write without a framework:
one ``sync_to_async`` hop doing the ORM read and the DRF serializer, its result returned
as the acknowledgement. Same settings, models, serializer and database as the djira
example, so ``bench/requests.py`` compares only what djira adds (or saves).

``DJIRA_BENCH_SERIALIZER=three`` swaps the serializer for a plain three-field one
(bench/_requests_serializers.py), as ``requests.py --serializer three`` does for both sides.
The ``echo`` handler returns the payload's ``data`` without touching the database
(``requests.py --echo``).

    uvicorn --app-dir example bench.bare_app:application   # with the repository on PYTHONPATH
"""

from __future__ import annotations

import os
from typing import Any

import django
import socketio
from asgiref.sync import sync_to_async

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django.setup()

from blog.models import Article  # noqa: E402 - after django.setup()

from bench._requests_serializers import selected  # noqa: E402

Serializer = selected()  # the example's ArticleSerializer unless DJIRA_BENCH_SERIALIZER says

sio = socketio.AsyncServer(async_mode="asgi")


async def articles(sid: str, payload: Any = None) -> Any:
    pk = payload["pk"]
    return await sync_to_async(lambda: Serializer(Article.objects.get(pk=pk)).data)()


async def echo(sid: str, payload: Any = None) -> Any:
    return payload["data"]


sio.on("articles", articles)
sio.on("echo", echo)


application = socketio.ASGIApp(sio)
