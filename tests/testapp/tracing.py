"""A lifecycle listener that wants traces, and a hook that shows what it kept (tests only)."""

from collections import deque

from djira.decorators import action
from djira.hooks import APIHook

TRACES: deque = deque(maxlen=50)


class TraceCollector:
    wants_traces = True

    def connected(self, scope):
        pass

    def disconnected(self, sid, reason):
        pass

    def request(self, scope, reply, duration):
        if scope.trace is not None and scope.event != "traces":
            TRACES.append({"requestId": reply["requestId"], **scope.trace.as_dict()})

    def pushed(self, event, room, payload):
        pass


class TracesHook(APIHook):
    @action(actions=["GET"])
    async def last(self, scope):
        wanted = scope.query_params.get("requestId")
        return [t for t in TRACES if t["requestId"] == wanted]
