"""Hooks wired to the classes the docs define (tests.docsamples), over the test app's books.

They declare ``event``, so the docs' server discovers them beside the hooks tests/asgi.py
registers by hand.
"""

import os
import time

from djira.decorators import action
from djira.hooks import APIHook, ModelAPIHook
from djira.permissions import IsAuthenticated
from tests import docsamples
from tests.testapp.models import Book
from tests.testapp.serializers import BookSerializer


class WhoAmIHook(APIHook):
    event = "docs_whoami"

    @action(actions=["GET"])
    def me(self, scope):
        return {
            "username": scope.user.username or None,
            "address": scope.environ.get("REMOTE_ADDR"),
            "scheme": scope.environ.get("HTTP_X_FORWARDED_PROTO"),
            "pid": os.getpid(),  # which worker process answered
        }


class BusyHook(APIHook):
    event = "docs_busy"

    @action(actions=["POST"])
    async def hold(self, scope):
        # Blocks this worker's event loop on purpose, as a long request would: meanwhile
        # only the other workers accept connections (tests/test_gunicorn.py).
        time.sleep(float(scope.data))  # noqa: ASYNC251 - blocking is the point
        return None


class StaffBooksHook(ModelAPIHook):
    event = "docs_staff_books"
    queryset = Book.objects.all()
    serializer_class = BookSerializer
    permission_classes = [docsamples.StaffWritesOnly]


class OwnedBooksHook(ModelAPIHook):
    """IsOwner alone: the queryset is left wide so the object check is what refuses."""

    event = "docs_owned_books"
    queryset = Book.objects.all()
    serializer_class = BookSerializer
    permission_classes = [IsAuthenticated, docsamples.IsOwner]


class DRFOwnedBooksHook(ModelAPIHook):
    event = "docs_drf_books"
    queryset = Book.objects.all()
    serializer_class = BookSerializer
    permission_classes = [IsAuthenticated, docsamples.IsOwnerOrReadOnly]
