"""Secrets never reach the traffic buffer: masking by key name, at any depth, and bounds."""

from __future__ import annotations

from django.test import override_settings

from djira.admin.redaction import MAX_ITEMS, MAX_STRING, REDACTED, redact, redact_environ


def test_default_keys_are_masked_case_insensitively():
    value = {
        "Password": "p",
        "new_password": "p2",
        "AUTHORIZATION": "Token x",
        "csrftoken": "c",
        "client_secret": "s",
        "Cookie": "sessionid=1",
        "title": "kept",
    }
    out = redact(value)
    assert out == {
        "Password": REDACTED,
        "new_password": REDACTED,
        "AUTHORIZATION": REDACTED,
        "csrftoken": REDACTED,
        "client_secret": REDACTED,
        "Cookie": REDACTED,
        "title": "kept",
    }


def test_nested_values_are_masked():
    out = redact({"data": {"users": [{"name": "a", "token": "t"}]}})
    assert out == {"data": {"users": [{"name": "a", "token": REDACTED}]}}


def test_a_masked_container_is_masked_whole():
    assert redact({"secret": {"a": 1}}) == {"secret": REDACTED}


def test_configured_keys_are_masked():
    with override_settings(DJIRA_SETTINGS={"REDACT_KEYS": ["ssn"]}):
        assert redact({"SSN": "123", "name": "x"}) == {"SSN": REDACTED, "name": "x"}


def test_configured_keys_do_not_leak_between_settings():
    assert redact({"ssn": "123"}) == {"ssn": "123"}


def test_long_strings_and_lists_are_cut():
    out = redact({"body": "x" * (MAX_STRING + 10), "items": list(range(MAX_ITEMS + 5))})
    assert len(out["body"]) == MAX_STRING + 1
    assert out["items"][-1] == "… 5 more"
    assert len(out["items"]) == MAX_ITEMS + 1


def test_deep_values_are_cut():
    value: dict = {}
    node = value
    for _ in range(20):
        node["next"] = {}
        node = node["next"]
    out = redact(value)
    depth = 0
    while isinstance(out, dict):
        out = out["next"]
        depth += 1
    assert out == "…" and depth < 10


def test_other_types_become_text():
    import datetime

    assert redact({"when": datetime.date(2024, 1, 2)}) == {"when": "2024-01-02"}


def test_environ_headers_are_masked():
    environ = {
        "HTTP_COOKIE": "sessionid=abc",
        "HTTP_AUTHORIZATION": "Token k",
        "HTTP_USER_AGENT": "pytest",
        "QUERY_STRING": "EIO=4&token=abc&transport=websocket",
        "wsgi.input": object(),
    }
    headers = redact_environ(environ)
    assert headers["Cookie"] == REDACTED
    assert headers["Authorization"] == REDACTED
    assert headers["User-Agent"] == "pytest"
    assert headers["(query)"] == f"EIO=4&token={REDACTED}&transport=websocket"
    assert "wsgi.input" not in str(headers)


def test_subclasses_of_scalars_become_plain_values():
    import enum

    from django.utils.safestring import mark_safe

    class Level(enum.IntEnum):
        HIGH = 3

    out = redact({"level": Level.HIGH, "html": mark_safe("<b>x</b>"), "key": 7})
    assert out == {"level": 3, "html": "<b>x</b>", "key": 7}
    assert type(out["level"]) is int and type(out["html"]) is str
