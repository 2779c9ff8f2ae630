"""The example's ASGI app, with the OpenTelemetry SDK set up when bench/telemetry.py traces.

Spans go through a ``BatchSpanProcessor`` (what production uses) to an exporter that drops
them: the cost measured is djira's and the SDK's, not a collector's.
"""

import os

if os.environ.get("DJIRA_BENCH_TELEMETRY") in ("tracing", "both"):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class DroppingExporter(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DroppingExporter()))
    trace.set_tracer_provider(provider)

from example.asgi import application  # noqa: E402, F401
