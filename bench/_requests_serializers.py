"""The serializers ``bench/requests.py --serializer`` chooses from, shared by both sides.

Import after ``django.setup()``. Both servers and the in-process ceiling read the choice from
``DJIRA_BENCH_SERIALIZER`` (``example``, the default, or ``three``).
"""

from __future__ import annotations

import os

from blog.models import Article
from blog.serializers import ArticleSerializer
from rest_framework import serializers

ENV = "DJIRA_BENCH_SERIALIZER"


class ThreeFieldArticleSerializer(serializers.ModelSerializer):
    """A plain ``ModelSerializer`` with three simple fields."""

    class Meta:
        model = Article
        fields = ["id", "title", "created"]


SERIALIZERS: dict[str, type[serializers.ModelSerializer]] = {
    "example": ArticleSerializer,
    "three": ThreeFieldArticleSerializer,
}


def selected() -> type[serializers.ModelSerializer]:
    """The serializer named by ``DJIRA_BENCH_SERIALIZER`` (default: the example's)."""
    return SERIALIZERS[os.environ.get(ENV) or "example"]
