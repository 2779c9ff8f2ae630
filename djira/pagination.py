"""Pagination on top of DRF's paginators; links become page numbers (or offsets).

A paginated list reply is ``{"count", "next", "previous", "results"}``.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rest_framework import pagination

from djira.settings import jira_settings


class BasePagination(pagination.BasePagination, metaclass=ABCMeta):
    """Subclass and implement ``paginate_queryset`` and ``get_paginated_data``."""

    @abstractmethod
    def get_paginated_data(self, data: Any) -> Any:
        """The reply body for one page of serialized ``data``."""


class PagePagination(BasePagination, pagination.PageNumberPagination):
    """``query.page`` (1-based, or ``"last"``) and ``query.page_size`` up to ``MAX_PAGE_SIZE``.

    A page past the end is a 404, as in DRF.
    """

    page_size_query_param = "page_size"

    def get_page_size(self, request: Any) -> int | None:
        self.page_size = jira_settings.PAGE_SIZE
        self.max_page_size = jira_settings.MAX_PAGE_SIZE
        return super().get_page_size(request)

    def get_next_link(self) -> int | None:  # type: ignore[override]
        assert self.page is not None
        return self.page.next_page_number() if self.page.has_next() else None

    def get_previous_link(self) -> int | None:  # type: ignore[override]
        assert self.page is not None
        return self.page.previous_page_number() if self.page.has_previous() else None

    def get_paginated_data(self, data: Any) -> dict[str, Any]:
        assert self.page is not None
        return {
            "count": self.page.paginator.count,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        }


class LimitOffsetPagination(BasePagination, pagination.LimitOffsetPagination):
    """``query.limit`` and ``query.offset``; ``next``/``previous`` are offsets."""

    def get_limit(self, request: Any) -> int | None:
        self.default_limit = jira_settings.PAGE_SIZE
        self.max_limit = jira_settings.MAX_PAGE_SIZE
        return super().get_limit(request)

    def get_next_link(self) -> int | None:  # type: ignore[override]
        limit, offset, count = self.limit, self.offset or 0, self.count or 0
        if limit is None or offset + limit >= count:
            return None
        return offset + limit

    def get_previous_link(self) -> int | None:  # type: ignore[override]
        limit, offset = self.limit, self.offset or 0
        if limit is None or offset <= 0:
            return None
        return max(offset - limit, 0)

    def get_paginated_data(self, data: Any) -> dict[str, Any]:
        return {
            "count": self.count,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        }
