"""The hook classes users subclass, like DRF's viewsets.

class ArticleAPIHook(ModelAPIHook):
    queryset = Article.objects.all()
    serializer_class = ArticleSerializer
"""

from __future__ import annotations

from djira import mixins
from djira.base import APIHook
from djira.generics import GenericAPIHook

__all__ = ["APIHook", "GenericAPIHook", "ModelAPIHook", "ReadOnlyModelAPIHook"]


class ReadOnlyModelAPIHook(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericAPIHook):
    """``GET`` list and retrieve."""


class ModelAPIHook(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    GenericAPIHook,
):
    """List, retrieve, create, update, partial update and destroy."""
