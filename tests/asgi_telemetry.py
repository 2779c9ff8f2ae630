"""The test server with the OpenTelemetry SDK recording into memory (tests/test_tracing.py).

The project's part of tracing, as docs/observability.md shows it: a ``TracerProvider`` set
before the application is built. Its spans are kept by the SDK's in-memory exporter and
read back through the ``spans`` hook (tests.testapp.telemetry). Whether djira records
anything is ``DJIRA_SETTINGS['TRACING']`` (DJIRA_TEST_SETTINGS in the environment).
"""

import os

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

EXPORTER = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(provider)

from tests.asgi import application, consumer  # noqa: E402, F401
from tests.testapp.telemetry import SpansHook  # noqa: E402

SpansHook.exporter = EXPORTER
consumer.register("spans", SpansHook)
