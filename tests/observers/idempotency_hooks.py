"""A hook for tests/observers/test_idempotency.py: a create that waits at a gate.

``POST gated`` with ``query={"gate": path}`` saves its book, then waits (up to 30 s) until a
file exists at ``path``: the test decides when the first request of a key finishes, and
sends a second one meanwhile. ``POST gated:flaky`` answers 429 the first time it sees a
title (and saves a book of that title), 200 afterwards.
"""

import os
import time

from rest_framework.exceptions import Throttled

from djira.decorators import action
from djira.hooks import ModelAPIHook
from djira.permissions import IsAuthenticated
from tests.testapp.models import Book
from tests.testapp.serializers import BookSerializer


class GatedBookHook(ModelAPIHook):
    queryset = Book.objects.all()
    serializer_class = BookSerializer
    permission_classes = [IsAuthenticated]

    def perform_create(self, serializer):
        serializer.save(owner=self.scope.user)
        gate = self.scope.query_params.get("gate")
        deadline = time.monotonic() + 30
        while gate and not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)

    @action(actions=["POST"])
    def flaky(self, scope):
        title = scope.data["title"]
        if not Book.objects.filter(title=title).exists():
            Book.objects.create(title=title, owner=scope.user)
            raise Throttled(wait=0)
        return {"title": title}
