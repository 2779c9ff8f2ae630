"""A request's objects are freed by reference counting as soon as its reply is sent, not left
as reference cycles for the garbage collector, whose collections pause every connection
(``bench/soak.py`` prints them): ``APIHook._break_cycles``, ``serializer_fields.unbind`` and
``delivery.queues.DjiraSocket._serve_websocket``.

Each test runs with the collector off and then asks it what it would have had to free.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework import serializers
from rest_framework.filters import OrderingFilter, SearchFilter

from djira.asgi import get_asgi_application
from djira.base import APIHook
from djira.consumer import Consumer
from djira.scope import Scope
from djira.serializer_fields import make_serializer, representation, unbind
from djira.server import create_server
from djira.testing import InProcessCommunicator
from tests.testapp.hooks import BookAPIHook
from tests.testapp.models import Book
from tests.testapp.serializers import BookSerializer

pytestmark = pytest.mark.usefixtures("db_")


@contextmanager
def cyclic_garbage() -> Iterator[list[Any]]:
    """The objects only the cyclic collector could free, made inside the block."""
    gc.collect()
    gc.disable()
    found: list[Any] = []
    try:
        yield found
    finally:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            found.extend(gc.garbage)
        finally:
            gc.garbage.clear()
            gc.set_debug(0)
            gc.enable()


def kinds(objects: list[Any], *classes: type) -> list[str]:
    return sorted({type(o).__qualname__ for o in objects if isinstance(o, classes)})


class ShelfSerializer(serializers.ModelSerializer):
    """A nested serializer, a ``ListField`` with its child, a method field."""

    tags = serializers.ListField(child=serializers.CharField(), default=list)
    twin = BookSerializer(source="*", read_only=True)
    shout = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "tags", "twin", "shout"]

    def get_shout(self, book: Book) -> str:
        return book.title.upper()


@pytest.fixture
def book() -> Book:
    return Book.objects.create(title="Dune", author="Herbert", year=1965)


@pytest.mark.parametrize(
    "build",
    [
        lambda book: make_serializer(BookSerializer, book),
        lambda book: make_serializer(ShelfSerializer, book),
        lambda book: make_serializer(BookSerializer, [book, book], many=True),
        lambda book: ShelfSerializer(book),  # DRF's own fields, not djira's copies
    ],
    ids=["model", "nested", "many", "drf-built"],
)
def test_an_unbound_serializer_is_freed_by_reference_counting(book, build):
    expected = build(book).data
    with cyclic_garbage() as left_bound:
        serializer = build(book)
        assert serializer.data == expected
        alive = weakref.ref(serializer)
        del serializer
    # The test can tell: a serializer left bound is a cycle.
    assert alive() is not None or kinds(left_bound, serializers.BaseSerializer)
    del left_bound

    with cyclic_garbage() as garbage:
        serializer = build(book)
        data = serializer.data  # which points back at its serializer
        unbind(serializer)
        alive = weakref.ref(serializer)
        del serializer
        assert data == expected
        del data
        assert alive() is None
    assert kinds(garbage, serializers.Field) == []


def test_an_unbound_serializer_still_reads_its_fields(book):
    serializer = make_serializer(ShelfSerializer, book)
    before = serializer.data
    unbind(serializer)
    assert list(serializer.fields) == ["id", "title", "tags", "twin", "shout"]
    assert ShelfSerializer(book).data == before


def test_a_push_s_representation_leaves_no_cycle(book):
    with cyclic_garbage() as garbage:
        data = representation(ShelfSerializer, book, context={"hook": None})
    assert data["shout"] == "DUNE"
    assert kinds(garbage, serializers.Field) == []


class ShelfAPIHook(BookAPIHook):
    # django-filter's backend is left out: its filter set and its filters point at each
    # other, with the scope, a cycle of django-filter's own (docs/performance.md).
    filter_backends = [SearchFilter, OrderingFilter]


@pytest.fixture(scope="module")
def application():
    sio = create_server()
    with override_settings(DJIRA_SETTINGS={**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio}):
        consumer = Consumer(sio)
        consumer.register("books", ShelfAPIHook)
        yield get_asgi_application(consumer=consumer, discover=False)


@pytest.mark.django_db(transaction=True)
async def test_requests_and_a_connection_leave_no_cycle(application, book):
    """Retrieve, list, create, update, a 404 and a 400, then the client goes."""
    with cyclic_garbage() as garbage:
        async with InProcessCommunicator(application) as client:
            replies = [
                await client.request("books", pk=book.pk),
                await client.request("books"),
                await client.request(
                    "books", action="POST", data={"title": "Emma", "author": "Austen", "year": 1815}
                ),
                await client.request("books", action="PATCH", pk=book.pk, data={"year": 1966}),
                await client.request("books", pk=10**9),
                await client.request("books", action="POST", data={"year": "soon"}),
            ]
    assert [r["status"] for r in replies] == [200, 200, 201, 200, 404, 400]
    found = kinds(garbage, Scope, APIHook, serializers.Field, Book)
    # python-engineio's websocket (and the tasks and frames of its read loop) freed too.
    found += sorted({type(o).__qualname__ for o in garbage if type(o).__name__ == "WebSocket"})
    assert found == []
