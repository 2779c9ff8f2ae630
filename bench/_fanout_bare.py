"""Fan-out baseline: a bare python-socketio server with a ``post_save`` -> room emit.

What a developer writes without djira: sockets join one room; a ``post_save`` receiver
serializes the article with the same DRF serializer and hands ``sio.emit(..., room=...)`` to
the server's loop. No transaction handling, no permissions, no envelope.

    uvicorn --app-dir example bench._fanout_bare:application
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import django
import socketio
from asgiref.sync import sync_to_async

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
if os.environ.get("BENCH_TRACEMALLOC"):  # bench/connections.py --tracemalloc
    import bench._tracemalloc_hook  # noqa: F401
django.setup()

from blog.models import Article  # noqa: E402 - after django.setup()
from blog.serializers import ArticleSerializer  # noqa: E402
from django.db.models.signals import post_save  # noqa: E402

sio = socketio.AsyncServer(async_mode="asgi")
loop: asyncio.AbstractEventLoop | None = None


@sio.on("connect")
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    global loop
    loop = asyncio.get_running_loop()


@sio.on("subscribe")
async def subscribe(sid: str, payload: Any = None) -> bool:
    await sio.enter_room(sid, "articles")
    return True


def _touch(pk: int, title: str) -> None:
    article = Article.objects.get(pk=pk)
    article.title = title
    article.save()


@sio.on("touch")
async def touch(sid: str, payload: Any) -> bool:
    await sync_to_async(_touch)(payload["pk"], payload["title"])
    return True


def on_save(sender: Any, instance: Article, **kwargs: Any) -> None:
    data = ArticleSerializer(instance).data
    if loop is not None:
        asyncio.run_coroutine_threadsafe(sio.emit("articles", data, room="articles"), loop)


post_save.connect(on_save, sender=Article, weak=False)
application = socketio.ASGIApp(sio)
