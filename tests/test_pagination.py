"""Pagination and filtering over a real server."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")


@pytest.fixture
def books(db_):
    return [
        Book.objects.create(
            title=f"book {i:02}", author="ann" if i % 2 else "bob", year=2000 + i, secret=f"s{i}"
        )
        for i in range(40)
    ]


@pytest.mark.parametrize(
    ("page", "size", "expected"),
    [
        (1, 16, (0, 16, None, 2)),
        (2, 16, (16, 32, 1, 3)),
        (3, 16, (32, 40, 2, None)),
        (2, 10, (10, 20, 1, 3)),
    ],
)
async def test_page_pagination_pages(connect, books, page, size, expected):
    client = await connect()
    reply = await client.request("books", query={"page": page, "page_size": size})
    start, stop, previous, next_ = expected
    data = reply["data"]
    assert data["count"] == 40
    assert [b["title"] for b in data["results"]] == [f"book {i:02}" for i in range(start, stop)]
    assert (data["previous"], data["next"]) == (previous, next_)


async def test_out_of_range_page_is_404(connect, books):
    client = await connect()
    assert (await client.request("books", query={"page": 4}))["status"] == 404
    assert (await client.request("books", query={"page": "zero"}))["status"] == 404


async def test_last_page_keyword(connect, books):
    client = await connect()
    reply = await client.request("books", query={"page": "last"})
    assert reply["data"]["previous"] == 2 and len(reply["data"]["results"]) == 8


async def test_page_size_is_capped(connect, books):
    client = await connect()
    reply = await client.request("books", query={"page_size": 10_000})
    assert len(reply["data"]["results"]) == 40  # below MAX_PAGE_SIZE (100): all of them


async def test_limit_offset_pagination(connect, books, token):
    client = await connect(token=token)
    reply = await client.request("readonly", query={"limit": 5, "offset": 35})
    data = reply["data"]
    assert data["count"] == 40 and len(data["results"]) == 5
    assert (data["previous"], data["next"]) == (30, None)
    reply = await client.request("readonly", query={"limit": 5, "offset": 100})
    assert reply["data"]["results"] == []


async def test_declared_filter_fields_filter(connect, books):
    client = await connect()
    reply = await client.request("books", query={"author": "ann", "year": 2001})
    assert [b["title"] for b in reply["data"]["results"]] == ["book 01"]


async def test_undeclared_field_cannot_be_probed(connect, books):
    client = await connect()
    probe = await client.request("books", query={"secret": "s1", "page_size": 100})
    assert probe["data"]["count"] == 40  # `secret` is not a filterset field: ignored
    ordered = await client.request("books", query={"ordering": "-secret", "page_size": 3})
    assert [b["title"] for b in ordered["data"]["results"]] == ["book 00", "book 01", "book 02"]


async def test_search_and_ordering(connect, books):
    client = await connect()
    reply = await client.request("books", query={"search": "book 1", "ordering": "-year"})
    assert [b["title"] for b in reply["data"]["results"]][:3] == ["book 31", "book 21", "book 19"]


async def test_invalid_filter_value_is_400(connect, books):
    client = await connect()
    reply = await client.request("books", query={"year": "not-a-year"})
    assert reply["status"] == 400 and "year" in reply["data"]


async def test_list_of_query_values(connect, books):
    client = await connect()
    reply = await client.request("books", query={"author": ["ann"], "year": [2003]})
    assert [b["title"] for b in reply["data"]["results"]] == ["book 03"]


@sync_to_async
def _count() -> int:
    return Book.objects.count()


async def test_custom_action_uses_orm(connect, books):
    client = await connect()
    assert (await client.request("books", namespace="count"))["data"] == {"count": await _count()}


def test_the_shared_empty_query_copies_into_a_working_mutable_query():
    from djira.scope import to_query_dict

    empty = to_query_dict(None)
    copy = empty.copy()
    copy["page"] = "2"
    assert copy.get("page") == "2" and copy.getlist("page") == ["2"]
    assert empty.get("page") is None and to_query_dict({}) is empty


@pytest.mark.parametrize(
    ("query", "searched"),
    [(None, False), ({"ordering": "-year"}, False), ({"search": "book 1"}, True)],
)
def test_drf_search_filter_runs_only_with_its_parameter(monkeypatch, books, query, searched):
    """Without ``search`` DRF's SearchFilter would return the queryset as it is; djira skips
    it then (djira.generics.filter_queryset), and runs it whenever the parameter is there."""
    from rest_framework.filters import SearchFilter

    from djira.scope import Scope
    from tests.testapp.hooks import BookAPIHook

    read = []
    original = SearchFilter.get_search_terms
    monkeypatch.setattr(
        SearchFilter,
        "get_search_terms",
        lambda self, request: read.append(1) or original(self, request),
    )
    scope = Scope(sid="s", event="books")
    scope.set_query(query)
    hook = BookAPIHook(scope)
    titles = [b.title for b in hook.filter_queryset(hook.get_queryset())]
    assert bool(read) == searched
    assert len(titles) == (13 if searched else 40)  # "book" and "1": 01, 10-19, 21, 31
