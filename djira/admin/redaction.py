"""Redaction and truncation of values before the admin records or shows them.

Secrets are hidden by key name, at any depth, before a value reaches the traffic buffer,
the cluster snapshot or a page; so a page can never show what was never kept.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from djira.settings import jira_settings

REDACTED = "********"
# Substrings of a key (compared in lower case) whose values are never kept.
DEFAULT_KEYS = (
    "password",
    "passwd",
    "token",
    "secret",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "sessionid",
    "private_key",
)
MAX_DEPTH = 6
MAX_ITEMS = 50
MAX_STRING = 500
_SCALARS = frozenset({bool, int, float})


class KeyMatcher:
    """Says whether a key is sensitive; remembers its answers (payload keys repeat a lot)."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self._known: dict[str, bool] = {}

    def __call__(self, key: Any) -> bool:
        name = key if isinstance(key, str) else str(key)
        known = self._known.get(name)
        if known is None:
            if len(self._known) >= 4096:  # client-chosen keys must not grow this for ever
                self._known.clear()
            lowered = name.lower()
            known = self._known[name] = any(k in lowered for k in self.keys)
        return known


@lru_cache(maxsize=8)
def _matcher(extra: tuple[str, ...]) -> KeyMatcher:
    return KeyMatcher(DEFAULT_KEYS + extra)


def redact_keys() -> KeyMatcher:
    """The matcher for the default keys plus ``REDACT_KEYS`` (read at call time)."""
    return _matcher(tuple(str(k).lower() for k in jira_settings.REDACT_KEYS or ()))


def is_sensitive(key: Any, keys: KeyMatcher | None = None) -> bool:
    return (keys or redact_keys())(key)


def redact(value: Any, keys: KeyMatcher | None = None, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` with sensitive keys masked and sizes bounded.

    Strings are cut at ``MAX_STRING`` characters and containers at ``MAX_ITEMS`` items, so
    one large payload cannot fill the buffer.
    """
    if keys is None:
        keys = redact_keys()
    kind = type(value)
    # Exact type checks first: this runs for every value of every recorded payload.
    if kind is str:
        return value if len(value) <= MAX_STRING else value[:MAX_STRING] + "…"
    if value is None or kind in _SCALARS:
        return value
    if depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        if len(value) <= MAX_ITEMS:
            for key, item in value.items():
                out[key if type(key) is str else str(key)] = (
                    REDACTED if keys(key) else redact(item, keys, depth + 1)
                )
            return out
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["…"] = f"{len(value) - MAX_ITEMS} more"
                break
            out[str(key)] = REDACTED if keys(key) else redact(item, keys, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        out_list = [redact(item, keys, depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            out_list.append(f"… {len(items) - MAX_ITEMS} more")
        return out_list
    if isinstance(value, bool | int | float | str):  # subclasses (IntEnum, SafeString...)
        return redact(value[:] if isinstance(value, str) else value.real, keys, depth)
    # Dates, decimals, lazy strings, model instances: their text, bounded.
    return redact(str(value), keys, depth + 1)


def redact_environ(environ: dict[str, Any]) -> dict[str, str]:
    """The handshake's HTTP headers (``HTTP_*``), masked; the rest of ``environ`` is noise."""
    keys = redact_keys()
    headers = {
        k[5:].replace("_", "-").title(): (
            REDACTED if is_sensitive(k, keys) else str(v)[:MAX_STRING]
        )
        for k, v in environ.items()
        if k.startswith("HTTP_")
    }
    # The query string carries Socket.IO's own parameters and, for some clients, tokens.
    query = str(environ.get("QUERY_STRING", ""))
    if query:
        parts = []
        for part in query.split("&"):
            name, _, _value = part.partition("=")
            parts.append(f"{name}={REDACTED}" if keys(name) else part)
        headers["(query)"] = "&".join(parts)[:MAX_STRING]
    return headers
