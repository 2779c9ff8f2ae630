"""The test server plus ``blobs`` (tests/observers/limits_hooks.py), for test_limits.py."""

from tests.asgi import application, consumer  # noqa: F401 - the ASGI app uvicorn serves
from tests.observers.limits_hooks import BlobHook

consumer.register("blobs", BlobHook)
