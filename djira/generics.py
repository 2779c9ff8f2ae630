"""``GenericAPIHook``: queryset, serializer, lookup, filtering and pagination, as in DRF."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework.filters import SearchFilter
from rest_framework.serializers import BaseSerializer

from djira import exceptions
from djira.base import APIHook
from djira.serializer_fields import make_serializer, unbind
from djira.settings import jira_settings


class GenericAPIHook(APIHook):
    """Base for hooks over a queryset; combine with the mixins in ``djira.mixins``.

    ``serializer_class`` names the serializer; the original djira README's
    ``serializer = UserSerializer()`` is accepted too (its class is used, never the instance).
    """

    queryset: QuerySet[Any] | None = None
    serializer_class: type[BaseSerializer[Any]] | None = None
    serializer: BaseSerializer[Any] | type[BaseSerializer[Any]] | None = None
    lookup_field = "pk"
    filter_backends: Any = None
    pagination_class: Any = "default"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Serializers made by ``get_serializer``, unbound once the reply is built.
        self._serializers: list[BaseSerializer[Any]] = []

    def get_queryset(self) -> QuerySet[Any]:
        """A fresh queryset for this request (``queryset`` re-evaluated, as in DRF)."""
        assert self.queryset is not None, (
            f"'{type(self).__name__}' should set `queryset` or override `get_queryset()`."
        )
        return self.queryset.all()

    def get_object(self) -> Model:
        """The object named by the request's ``pk``; 404 if absent, 403 if not permitted."""
        queryset = self.filter_queryset(self.get_queryset())
        pk = self.scope.pk
        if pk is None or isinstance(pk, bool | dict | list):
            raise exceptions.ValidationError({"pk": ["A lookup value is required."]})
        try:
            obj = get_object_or_404(queryset, **{self.lookup_field: pk})
        except (TypeError, ValueError, DjangoValidationError):
            # A lookup value of the wrong shape for the field ("abc" for an integer pk) is a
            # missing object, not a server error.
            raise exceptions.NotFound() from None
        self.check_object_permissions(self.scope, obj)
        return obj

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.serializer_class is not None:
            return self.serializer_class
        if isinstance(self.serializer, BaseSerializer):
            return type(self.serializer)
        assert self.serializer is not None, (
            f"'{type(self).__name__}' should set `serializer_class` or override "
            "`get_serializer_class()`."
        )
        return self.serializer

    def get_serializer_context(self) -> dict[str, Any]:
        # The scope stands in for DRF's request, so request-aware serializer code works.
        return {"request": self.scope, "scope": self.scope, "view": self, "hook": self}

    def get_serializer(self, *args: Any, **kwargs: Any) -> BaseSerializer[Any]:
        kwargs.setdefault("context", self.get_serializer_context())
        serializer: BaseSerializer[Any] = make_serializer(
            self.get_serializer_class(), *args, **kwargs
        )
        # Not tracked on a push's hook (``BaseObserver.get_context_hook``: no ``__init__``).
        made = self.__dict__.get("_serializers")
        if made is not None:
            made.append(serializer)
        return serializer

    def _break_cycles(self) -> None:
        for serializer in self._serializers:
            unbind(serializer)
        self._serializers.clear()
        super()._break_cycles()

    # -- filtering and pagination ---------------------------------------------------------

    def get_filter_backends(self) -> list[Any]:
        backends = self.filter_backends
        if backends is None:
            backends = jira_settings.FILTER_BACKENDS
        return list(backends)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Apply the filter backends; each honours only the fields the hook declares."""
        query = self.scope.raw_query
        for backend in self.get_filter_backends():
            if backend is SearchFilter and SearchFilter.search_param not in query:
                # DRF's own SearchFilter returns the queryset untouched without its
                # parameter, but only after building a CharField to read it (about 20 µs of
                # a retrieve's CPU). A subclass may search otherwise: it always runs.
                continue
            queryset = backend().filter_queryset(self.scope, queryset, self)
        return queryset

    @property
    def paginator(self) -> Any:
        if not hasattr(self, "_paginator"):
            cls = self.pagination_class
            if cls == "default":
                cls = jira_settings.DEFAULT_PAGINATION_CLASS
            self._paginator = cls() if cls is not None else None
        return self._paginator

    def paginate_queryset(self, queryset: QuerySet[Any]) -> list[Any] | None:
        if self.paginator is None:
            return None
        return self.paginator.paginate_queryset(queryset, self.scope, view=self)

    def get_paginated_data(self, data: Any) -> Any:
        assert self.paginator is not None
        return self.paginator.get_paginated_data(data)
