"""The example's ASGI app, with the OpenTelemetry SDK set up when bench/telemetry.py traces.

Spans go through a ``BatchSpanProcessor`` (what production uses) to an exporter that drops
them: the cost measured is djira's and the SDK's, not a collector's. ``sampled`` keeps one
request in ten (``ParentBased(TraceIdRatioBased(0.1))``, a head sampler as deployments that
trace every service often configure).
"""

import os

_MODE = os.environ.get("DJIRA_BENCH_TELEMETRY")
if _MODE in ("tracing", "sampled", "both"):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    class DroppingExporter(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(0.1)) if _MODE == "sampled" else None
    )
    provider.add_span_processor(BatchSpanProcessor(DroppingExporter()))
    trace.set_tracer_provider(provider)

from example.asgi import application  # noqa: E402, F401
