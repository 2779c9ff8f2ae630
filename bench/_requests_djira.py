"""bench/requests.py's djira side for ``--serializer three`` and ``--echo``.

The example project as shipped (``example.asgi``), with two hooks registered by hand on its
consumer:

- ``articles``, only when ``DJIRA_BENCH_SERIALIZER=three``: a plain ``ModelAPIHook`` over
  ``Article`` with a three-field ``ModelSerializer`` (``AllowAny``, the default, made
  explicit; no filters), replacing the example's hook;
- ``echo``: an ``APIHook`` whose ``echo`` namespace is an ``async`` route returning the
  request's ``data`` (no database).

    uvicorn --app-dir example bench._requests_djira:application
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django.setup()

from blog.models import Article  # noqa: E402 - after django.setup()

from bench._requests_serializers import ENV, ThreeFieldArticleSerializer  # noqa: E402
from djira.consumer import get_default_consumer  # noqa: E402
from djira.decorators import action  # noqa: E402
from djira.hooks import APIHook, ModelAPIHook  # noqa: E402
from djira.permissions import AllowAny  # noqa: E402


class ThreeFieldArticleHook(ModelAPIHook):
    queryset = Article.objects.all()
    serializer_class = ThreeFieldArticleSerializer
    permission_classes = [AllowAny]  # what the default gives, without the check's warning


class EchoHook(APIHook):
    @action(actions=["GET"])
    async def echo(self, scope: Any) -> Any:
        return scope.data


# The consumer example.asgi serves (a hook registered by hand wins over a discovered one).
consumer = get_default_consumer()
consumer.register("echo", EchoHook)
if os.environ.get(ENV) == "three":
    consumer.register("articles", ThreeFieldArticleHook)

from example.asgi import application  # noqa: E402

__all__ = ["application"]
