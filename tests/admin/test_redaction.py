"""Secrets never reach the traffic buffer: masking by key name, at any depth, and bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from djira import checks
from djira.admin.recorder import TrafficRecorder
from djira.admin.redaction import (
    DEFAULT_KEYS,
    MAX_ITEMS,
    MAX_KNOWN_KEYS,
    MAX_KNOWN_LENGTH,
    MAX_STRING,
    REDACTED,
    KeyMatcher,
    is_sensitive,
    normalize_key,
    redact,
    redact_environ,
    redact_query,
)
from djira.lifecycle import Monitor
from djira.scope import Scope
from tests.conftest import ROOT


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


# -- one key, many spellings (issue 17) ---------------------------------------------------

API_KEY_SPELLINGS = [
    "X-Api-Key",
    "x-api-key",
    "x_api_key",
    "X_API_KEY",
    "apiKey",
    "ApiKey",
    "api-key",
    "API-KEY",
    "api_key",
    "api key",
    "api.key",
    "HTTP_X_API_KEY",
]
PRIVATE_KEY_SPELLINGS = ["X-Private-Key", "private-key", "privateKey", "PRIVATE_KEY", "private key"]
SPELLINGS = API_KEY_SPELLINGS + PRIVATE_KEY_SPELLINGS
# Keys that share letters with secret words but are not secrets: kept.
NOT_SECRETS = ["key", "keyboard", "monkey", "api_version", "private_notes", "author", "title"]


@pytest.mark.parametrize(
    ("key", "normalized"),
    [
        ("X-Api-Key", "xapikey"),
        ("x_api_key", "xapikey"),
        ("apiKey", "apikey"),
        ("API-KEY", "apikey"),
        ("HTTP_X_API_KEY", "httpxapikey"),
        ("private key", "privatekey"),
        (7, "7"),
    ],
)
def test_a_key_is_normalized_to_its_letters_and_digits(key, normalized):
    assert normalize_key(key) == normalized


@pytest.mark.parametrize("key", SPELLINGS)
def test_every_spelling_is_sensitive(key):
    assert is_sensitive(key)


@pytest.mark.parametrize("key", NOT_SECRETS)
def test_keys_that_only_share_letters_are_kept(key):
    assert not is_sensitive(key)


def test_a_secret_word_inside_a_longer_key_is_sensitive():
    # Documented (docs/security.md): a word matches anywhere, false positives included.
    assert is_sensitive("refresh_token") and is_sensitive("sessionId")
    assert is_sensitive("tokens_count")


@pytest.mark.parametrize("key", SPELLINGS)
def test_request_headers_data_and_query_are_masked_in_every_spelling(key):
    request = {
        "headers": {key: "hdr-secret", "X-Tag": "visible"},
        "data": {"items": [{"meta": {key: "data-secret", "name": "visible"}}]},
        "query": {key: "query-secret", "page": "2"},
    }
    out = redact(request)
    assert out["headers"] == {key: REDACTED, "X-Tag": "visible"}
    assert out["data"]["items"][0]["meta"] == {key: REDACTED, "name": "visible"}
    assert out["query"] == {key: REDACTED, "page": "2"}


@pytest.mark.parametrize(
    "header", ["HTTP_X_API_KEY", "HTTP_API_KEY", "HTTP_APIKEY", "HTTP_X_PRIVATE_KEY"]
)
def test_handshake_headers_are_masked_in_environ_form(header):
    headers = redact_environ({header: "hs-secret", "HTTP_X_TAG": "visible"})
    assert "hs-secret" not in str(headers)
    assert headers["X-Tag"] == "visible"


@pytest.mark.parametrize("name", [*SPELLINGS, "api%2Dkey", "api+key", "private%5Fkey"])
def test_the_connect_urls_query_string_is_masked_in_every_spelling(name):
    environ = {"QUERY_STRING": f"EIO=4&{name}=url-secret&visible=yes&transport=websocket"}
    assert redact_environ(environ)["(query)"] == (
        f"EIO=4&{name}={REDACTED}&visible=yes&transport=websocket"
    )


def test_a_url_in_a_handshake_header_has_its_query_masked():
    environ = {"HTTP_REFERER": "https://app.example/page?apiKey=ref-secret&tab=2#top"}
    assert redact_environ(environ)["Referer"] == (
        f"https://app.example/page?apiKey={REDACTED}&tab=2#top"
    )


def test_a_parameter_without_a_value_is_kept():
    assert redact_query("token&a=1") == "token&a=1"


@pytest.mark.parametrize("key", SPELLINGS)
def test_recorded_request_rows_are_masked_in_every_spelling(key):
    recorder = TrafficRecorder(size=10)
    recorder.watch()
    s = Scope(
        sid="s1",
        event="books",
        namespace="echo-both",
        action="POST",
        data={"book": {"tags": [{key: "data-secret"}]}},
        query={key: "query-secret"},
        headers={key: "hdr-secret"},
        user=None,
        environ={},
    )
    monitor = Monitor(listeners=[recorder])
    s.trace = monitor.start_trace()
    monitor.request(s, {"status": 201, "requestId": "r1", "data": {key: "reply-secret"}}, 0.01)
    rows = repr(list(recorder.rows))
    assert "secret'" not in rows and rows.count(REDACTED) == 4


def test_configured_words_match_in_any_spelling():
    with override_settings(DJIRA_SETTINGS={"REDACT_KEYS": ["Social-Security-Number"]}):
        out = redact({"socialSecurityNumber": "1", "SOCIAL_SECURITY_NUMBER": "2", "n": 3})
    assert out == {"socialSecurityNumber": REDACTED, "SOCIAL_SECURITY_NUMBER": REDACTED, "n": 3}


def test_a_word_without_letters_or_digits_is_ignored():
    assert KeyMatcher(("-", "_", "token")).words == ("token",)
    assert not KeyMatcher(("-",))("title")


def test_a_word_without_letters_or_digits_fails_the_settings_check():
    with override_settings(DJIRA_SETTINGS={"REDACT_KEYS": ["ssn", "--"]}):
        [error] = checks.check_values()
    assert error.id == "djira.E006" and "REDACT_KEYS" in error.msg


def test_the_matchers_memory_is_bounded():
    matcher = KeyMatcher(DEFAULT_KEYS)
    for i in range(MAX_KNOWN_KEYS + 10):
        matcher(f"field{i}")
    assert len(matcher._known) <= MAX_KNOWN_KEYS
    long_key = "x" * (MAX_KNOWN_LENGTH + 1) + "token"
    assert matcher(long_key) and long_key not in matcher._known


def test_every_default_word_is_documented():
    page = (Path(ROOT) / "docs" / "security.md").read_text()
    section = page[page.index("## Redaction") :]
    for word in DEFAULT_KEYS:
        assert f"`{word}`" in section, word
