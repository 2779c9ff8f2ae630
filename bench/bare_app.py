"""The baseline: a bare python-socketio handler over the example project, written naively.

It serves the ``articles`` event with what a developer would write without a framework:
one ``sync_to_async`` hop doing the ORM read and the DRF serializer, its result returned
as the acknowledgement. Same settings, models, serializer and database as the djira
example, so ``bench/requests.py`` compares only what djira adds (or saves).

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
from blog.serializers import ArticleSerializer  # noqa: E402

sio = socketio.AsyncServer(async_mode="asgi")


async def articles(sid: str, payload: Any = None) -> Any:
    pk = payload["pk"]
    return await sync_to_async(lambda: ArticleSerializer(Article.objects.get(pk=pk)).data)()


sio.on("articles", articles)


application = socketio.ASGIApp(sio)
