"""A hook that shows the spans the server's OpenTelemetry SDK finished (tests only)."""

from djira.decorators import action
from djira.hooks import APIHook


def as_dict(span):
    parent = span.parent
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_id": format(parent.span_id, "016x") if parent is not None else None,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes),
        "events": [{"name": e.name, "attributes": dict(e.attributes)} for e in span.events],
        "links": [
            {
                "trace_id": format(link.context.trace_id, "032x"),
                "span_id": format(link.context.span_id, "016x"),
            }
            for link in span.links
        ],
        "start": span.start_time,
        "end": span.end_time,
    }


class SpansHook(APIHook):
    exporter = None  # set by tests.asgi_telemetry

    @action(actions=["GET"])
    def finished(self, scope):
        """Every span finished so far, except this hook's own requests'."""
        spans = [as_dict(s) for s in self.exporter.get_finished_spans()]
        return [s for s in spans if s["attributes"].get("rpc.service") != "spans"]

    @action(actions=["DELETE"])
    def clear(self, scope):
        self.exporter.clear()
        return None

    @action(actions=["GET"])
    def pid(self, scope):
        """The serving process (tests/test_metrics.py: which gunicorn worker)."""
        import os

        return os.getpid()

    @action(actions=["POST"])
    async def hold(self, scope):
        """Block this worker's event loop for ``data`` seconds, so it accepts nobody."""
        import time

        time.sleep(float(scope.data))  # noqa: ASYNC251 - blocking the loop is the point
