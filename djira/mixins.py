"""CRUD behaviour for ``GenericAPIHook``s, with DRF's ``perform_*`` override points.

Each method runs in a worker thread with the rest of the request's sync work.
"""

from __future__ import annotations

from typing import Any

from rest_framework import status

from djira.response import Response


class CreateModelMixin:
    """``POST`` without a namespace: create an object."""

    def create(self: Any, scope: Any) -> Response:
        serializer = self.get_serializer(data=scope.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(serializer.data, status.HTTP_201_CREATED)

    def perform_create(self, serializer: Any) -> None:
        serializer.save()


class ListModelMixin:
    """``GET`` without namespace or pk: list, filtered and paginated."""

    def list(self: Any, scope: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        if page is not None:
            return Response(self.get_paginated_data(self.get_serializer(page, many=True).data))
        return Response(self.get_serializer(queryset, many=True).data)


class RetrieveModelMixin:
    """``GET`` with a pk: one object."""

    def retrieve(self: Any, scope: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)


class UpdateModelMixin:
    """``PUT`` (full) and ``PATCH`` (partial) with a pk."""

    def update(self: Any, scope: Any, partial: bool = False) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=scope.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(serializer.data)

    def partial_update(self: Any, scope: Any) -> Response:
        return self.update(scope, partial=True)

    def perform_update(self, serializer: Any) -> None:
        serializer.save()


class DestroyModelMixin:
    """``DELETE`` with a pk."""

    def destroy(self: Any, scope: Any) -> Response:
        self.perform_destroy(self.get_object())
        return Response(None, status.HTTP_204_NO_CONTENT)

    def perform_destroy(self, instance: Any) -> None:
        instance.delete()
