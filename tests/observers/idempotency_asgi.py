"""The observers' test server plus the gated hook of tests/observers/idempotency_hooks.py."""

from tests.observers.asgi import application, consumer  # noqa: F401 - served by uvicorn
from tests.observers.idempotency_hooks import GatedBookHook

consumer.register("gated", GatedBookHook)
