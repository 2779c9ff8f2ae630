"""A hook for tests/observers/test_idempotency.py: a create that waits at a gate.

``POST gated`` with ``query={"gate": path}`` saves its book, then waits (up to 30 s) until a
file exists at ``path``: the test decides when the first request of a key finishes, and
sends a second one meanwhile.
"""

import os
import time

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
