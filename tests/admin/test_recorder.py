"""The recorder counts always, keeps rows only while watched, and stays bounded."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from djira.admin.recorder import MAX_ROUTES, TrafficRecorder, percentile
from djira.admin.redaction import REDACTED
from djira.lifecycle import Monitor
from djira.scope import Scope


class FakeUser:
    is_authenticated = True

    def get_username(self):
        return "alice"


def scope(sid="s1", event="books", namespace=None, action="POST", data=None, user=None):
    s = Scope(
        sid=sid,
        event=event,
        namespace=namespace,
        action=action,
        data=data,
        user=user or FakeUser(),
        environ={"HTTP_USER_AGENT": "ua", "HTTP_COOKIE": "sessionid=x"},
    )
    return s


def reply(status=200, data=None, request_id="r1"):
    return {
        "status": status,
        "event": "books",
        "namespace": None,
        "action": "POST",
        "requestId": request_id,
        "data": data,
    }


@pytest.fixture
def recorder():
    return TrafficRecorder(size=10)


def handle(recorder, scope, reply, duration, *others):
    """What djira.handler does around a request: ask for a trace as it starts (the monitor
    asks every listener), report it."""
    monitor = Monitor(listeners=[*others, recorder])
    scope.trace = monitor.start_trace()
    monitor.request(scope, reply, duration)


def test_counts_without_rows_when_nobody_watches(recorder):
    recorder.connected(scope())
    handle(recorder, scope(), reply(), 0.01)
    assert recorder.rows == type(recorder.rows)([], maxlen=10)
    assert recorder.connections["s1"].requests == 1
    assert recorder.routes[("books", "", "POST")].count == 1
    assert sum(recorder.events_per_second(5)) == 2


def test_watched_requests_become_redacted_rows(recorder):
    recorder.watch()
    handle(
        recorder,
        scope(data={"title": "t", "password": "hunter2"}),
        reply(data={"token": "k"}),
        0.02,
    )
    incoming, outgoing = list(recorder.rows)
    assert incoming["direction"] == "in" and outgoing["direction"] == "out"
    assert incoming["payload"]["data"] == {"title": "t", "password": REDACTED}
    assert outgoing["payload"] == {"token": REDACTED}
    assert outgoing["status"] == 200 and outgoing["duration"] == 0.02
    assert outgoing["user"] == "alice" and outgoing["requestId"] == "r1"
    assert outgoing["size"] > 0
    assert "hunter2" not in repr(list(recorder.rows))


def test_connects_and_disconnects_are_rows_while_watched(recorder):
    recorder.watch()
    recorder.connected(scope())
    recorder.disconnected("s1", "client disconnect")
    assert [r["direction"] for r in recorder.rows] == ["connect", "disconnect"]
    assert recorder.rows[0]["payload"]["userAgent"] == "ua"
    assert "s1" not in recorder.connections


def test_recording_can_be_switched_off(recorder):
    recorder.watch()
    with override_settings(DJIRA_SETTINGS={"RECORD_TRAFFIC": False}):
        handle(recorder, scope(), reply(), 0.01)
        assert not recorder.recording
    assert len(recorder.rows) == 0
    assert recorder.routes[("books", "", "POST")].count == 1


def test_buffer_is_a_ring(recorder):
    recorder.watch()
    for i in range(20):
        handle(recorder, scope(), reply(request_id=f"r{i}"), 0.001)
    assert len(recorder.rows) == 10
    assert recorder.rows[-1]["requestId"] == "r19"


def test_buffer_size_comes_from_settings():
    with override_settings(DJIRA_SETTINGS={"TRAFFIC_BUFFER_SIZE": 3}):
        assert TrafficRecorder().rows.maxlen == 3


def test_unknown_hooks_share_one_route_entry(recorder):
    for i in range(5):
        handle(recorder, scope(event=f"nope{i}"), reply(status=404), 0.001)
    assert list(recorder.routes) == [("(not found)", "", "POST")]
    assert recorder.routes[("(not found)", "", "POST")].errors == 5


def test_routes_are_bounded(recorder):
    for i in range(MAX_ROUTES + 10):
        handle(recorder, scope(namespace=f"n{i}"), reply(), 0.001)
    assert len(recorder.routes) == MAX_ROUTES + 1
    assert recorder.routes[("(other)", "", "")].count == 10


def test_route_summary_reports_percentiles_in_ms(recorder):
    for ms in range(1, 101):
        handle(recorder, scope(), reply(status=500 if ms == 100 else 200), ms / 1000)
    (route,) = recorder.route_summary()
    assert route["count"] == 100 and route["errors"] == 1
    assert route["p50"] == pytest.approx(50)
    assert route["p99"] == pytest.approx(99)


def test_percentile_of_nothing_is_zero():
    assert percentile([], 0.5) == 0.0


def test_anonymous_user_is_labelled(recorder):
    recorder.watch()
    handle(recorder, scope(user=AnonymousUser()), reply(), 0.001)
    assert recorder.rows[0]["user"] == "anonymous"


def test_pushes_are_counted_and_recorded(recorder):
    recorder.watch()
    recorder.pushed(
        "books",
        "book__1",
        {
            "status": 200,
            "namespace": "sub",
            "action": "SUBSCRIPTION",
            "type": "update",
            "data": {"secret": "s", "id": 1},
        },
    )
    (row,) = recorder.rows
    assert row["direction"] == "push" and row["room"] == "book__1"
    assert row["payload"] == {"secret": REDACTED, "id": 1}


def test_the_console_registers_its_recorder_as_a_lifecycle_listener():
    # djira.admin registers TrafficRecorder when the console is installed (tests' settings).
    assert isinstance(Monitor().find(TrafficRecorder), TrafficRecorder)
    assert Monitor(listeners=[]).find(TrafficRecorder) is None


def test_core_modules_do_not_import_the_admin():
    import subprocess
    import sys

    code = (
        "import django, sys; from django.conf import settings;"
        "settings.configure(INSTALLED_APPS=['django.contrib.auth', 'django.contrib.contenttypes',"
        " 'rest_framework', 'djira.apps.DJiraConfig'], DATABASES={'default': {'ENGINE':"
        " 'django.db.backends.sqlite3', 'NAME': ':memory:'}});"
        "django.setup();"
        "import djira.consumer, djira.handler, djira.lifecycle, djira.server, djira.sync;"
        "print(sorted(m for m in sys.modules if m.startswith('djira.admin')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_reply_row_has_the_size_of_the_encoded_reply(recorder):
    from djira import json as djira_json

    recorder.watch()
    sent = scope(data={"q": 1})
    sent.set_query({"search": "dune"})
    sent.reply_size = 1234  # what djira.handler measured on the text it sent
    handle(recorder, sent, reply(data={"id": 1}), 0.01)
    unsent = scope()  # a listener test without the handler: the reply is encoded here
    handle(recorder, unsent, reply(data={"id": 1}), 0.01)
    rows = list(recorder.rows)
    assert rows[0]["payload"]["query"] == {"search": "dune"}
    assert rows[1]["size"] == 1234
    assert rows[3]["size"] == len(djira_json.dumps(reply(data={"id": 1})))


# -- the recording budget (TRAFFIC_RECORD_RATE) ----------------------------------------


def test_a_budget_takes_its_rate_then_refills_with_time(monkeypatch):
    from djira.admin import recorder as module

    clock = [100.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    budget = module.Budget(3)
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]
    clock[0] += 0.5  # half a second: 1.5 tokens back
    assert [budget.take() for _ in range(3)] == [True, False, False]
    clock[0] += 60  # a long pause refills to the rate, never beyond
    assert sum(budget.take() for _ in range(10)) == 3
    assert all(module.Budget(None).take() for _ in range(1000))


def watched_recorder(settings, rate, size=100):
    """A recorder with ``TRAFFIC_RECORD_RATE`` ``rate``, as while a page watches."""
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "TRAFFIC_RECORD_RATE": rate}
    recorder = TrafficRecorder(size=size)
    recorder.watch()
    return recorder


def test_past_the_budget_requests_are_counted_not_recorded(settings):
    recorder = watched_recorder(settings, 3)
    for i in range(10):
        handle(recorder, scope(), reply(request_id=f"r{i}"), 0.001)
    # The first three, each with its two rows and its trace; the other seven counted only.
    assert [r["requestId"] for r in recorder.rows] == ["r0", "r0", "r1", "r1", "r2", "r2"]
    assert len(recorder.traces) == 3
    assert {r["trace"] for r in recorder.rows} == set(recorder.traces)
    assert recorder.routes[("books", "", "POST")].count == 10
    assert recorder.unrecorded_recently() == 7


def test_nobody_watching_takes_nothing_from_the_budget(settings):
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "TRAFFIC_RECORD_RATE": 2}
    recorder = TrafficRecorder(size=100)
    for _ in range(5):
        handle(recorder, scope(), reply(), 0.001)
    assert recorder.unrecorded_recently() == 0 and not recorder.rows
    recorder.watch()
    for _ in range(3):
        handle(recorder, scope(), reply(), 0.001)
    assert len(recorder.rows) == 4 and recorder.unrecorded_recently() == 1


def test_no_budget_records_every_request(settings):
    recorder = watched_recorder(settings, None, size=10_000)
    for _ in range(1000):
        handle(recorder, scope(), reply(), 0.001)
    assert len(recorder.rows) == 2000 and recorder.unrecorded_recently() == 0


def test_a_route_summary_follows_new_requests_after_a_cached_one():
    recorder = TrafficRecorder(size=10)
    stats = recorder._route("books", "", "GET")
    for ms in (1, 2, 3):
        stats.count += 1
        stats.durations.append(ms / 1000)
    assert recorder.route_summary()[0]["p50"] == pytest.approx(2)
    for _ in range(10):
        stats.count += 1
        stats.durations.append(0.1)
    (route,) = recorder.route_summary()
    assert route["p50"] == pytest.approx(100) and route["count"] == 13


def test_failures_past_the_budget_keep_their_rows_without_a_trace(settings):
    recorder = watched_recorder(settings, 2)
    for i in range(4):
        handle(recorder, scope(), reply(request_id=f"ok{i}"), 0.001)
    for i in range(4):
        handle(recorder, scope(), reply(status=500 if i % 2 else 403, request_id=f"e{i}"), 0.001)
    rows = list(recorder.rows)
    # ok0 and ok1 in full; then the failures, within their own budget of 2: e0 and e1.
    assert [r["requestId"] for r in rows if r["direction"] == "out"] == ["ok0", "ok1", "e0", "e1"]
    assert [r["trace"] is None for r in rows if r["direction"] == "out"] == [
        False,
        False,
        True,
        True,
    ]
    assert [r["status"] for r in rows if r["requestId"] in ("e0", "e1") and r["status"]] == [
        403,
        500,
    ]
    assert recorder.unrecorded_recently() == 4  # ok2, ok3, e2, e3


def test_another_listener_wanting_every_trace_does_not_spend_the_budget(settings):
    class Tracer:  # a listener of the user's own, tracing every request
        wants_traces = True

        def request(self, scope, reply, duration):
            pass

    recorder = watched_recorder(settings, 2)
    for i in range(6):
        handle(recorder, scope(), reply(request_id=f"r{i}"), 0.001, Tracer())
    # The recorder keeps its own two, whoever else traced the others.
    assert [r["requestId"] for r in recorder.rows] == ["r0", "r0", "r1", "r1"]
    assert len(recorder.traces) == 2 and recorder.unrecorded_recently() == 4
