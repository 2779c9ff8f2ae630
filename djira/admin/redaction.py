"""Redaction and truncation of values before the admin records or shows them.

Secrets are hidden by key name, at any depth, before a value reaches the traffic buffer,
the cluster snapshot or a page; so a page can never show what was never kept.

A key is compared by its letters and digits only, case-folded (``normalize_key``): ``X-Api-Key``,
``x_api_key``, ``apiKey``, ``API-KEY`` and Django's environ name ``HTTP_X_API_KEY`` all read
``…apikey…``. A key is secret when that contains one of the secret words, normalized the same
way: ``DEFAULT_KEYS`` plus the ``REDACT_KEYS`` setting. See docs/security.md, "Redaction".
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from djira.settings import jira_settings

REDACTED = "********"
#: The secret words always redacted; ``REDACT_KEYS`` adds to them. Spelling does not matter
#: (``api_key`` also catches ``X-Api-Key`` and ``apiKey``); a word is found anywhere in a key
#: (``token`` catches ``csrftoken`` and ``refresh_token``, and ``tokens_count`` too).
DEFAULT_KEYS = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "cookie",
    "credential",
    "api_key",
    "private_key",
    "session_id",
    "session_key",
)
MAX_DEPTH = 6
MAX_ITEMS = 50
MAX_STRING = 500
# Answers remembered per matcher, and the longest key remembered: keys are client-chosen.
MAX_KNOWN_KEYS = 4096
MAX_KNOWN_LENGTH = 200
_SCALARS = frozenset({bool, int, float})
# Everything but letters and digits (``\W`` keeps ``_``).
_SEPARATORS = re.compile(r"[\W_]+")


def normalize_key(key: Any) -> str:
    """``key`` as redaction compares it: case-folded, letters and digits only.

    ``"X-Api-Key"``, ``"x_api_key"``, ``"apiKey"`` and ``"HTTP_X_API_KEY"`` give
    ``"xapikey"``, ``"xapikey"``, ``"apikey"`` and ``"httpxapikey"``.
    """
    name = key if isinstance(key, str) else str(key)
    return _SEPARATORS.sub("", name.casefold())


class KeyMatcher:
    """Says whether a key is sensitive; remembers its answers (payload keys repeat a lot).

    :param keys: secret words, in any spelling; a key is sensitive when its normalized form
        contains one of theirs. Words with no letter or digit are ignored (they would match
        every key).
    """

    def __init__(self, keys: tuple[str, ...]) -> None:
        words = {normalize_key(k) for k in keys} - {""}
        #: The normalized secret words, sorted.
        self.words = tuple(sorted(words))
        self._pattern = re.compile("|".join(re.escape(w) for w in self.words) or r"(?!)")
        self._known: dict[str, bool] = {}

    def __call__(self, key: Any) -> bool:
        name = key if isinstance(key, str) else str(key)
        known = self._known.get(name)
        if known is None:
            known = self._pattern.search(normalize_key(name)) is not None
            if len(name) <= MAX_KNOWN_LENGTH:
                if len(self._known) >= MAX_KNOWN_KEYS:  # client-chosen keys: bounded
                    self._known.clear()
                self._known[name] = known
        return known


@lru_cache(maxsize=8)
def _matcher(extra: tuple[str, ...]) -> KeyMatcher:
    return KeyMatcher(DEFAULT_KEYS + extra)


def redact_keys() -> KeyMatcher:
    """The matcher for ``DEFAULT_KEYS`` plus ``REDACT_KEYS`` (read at call time)."""
    return _matcher(tuple(str(k) for k in jira_settings.REDACT_KEYS or ()))


def is_sensitive(key: Any, keys: KeyMatcher | None = None) -> bool:
    """Whether values under ``key`` are redacted."""
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


def redact_query(query: str, keys: KeyMatcher | None = None) -> str:
    """A URL's query string with the values of sensitive parameters masked.

    Names are percent-decoded before they are matched (``api%2Dkey``, ``api+key``); the rest
    of the string is kept as it was sent.
    """
    if keys is None:
        keys = redact_keys()
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        parts.append(f"{name}={REDACTED}" if equals and keys(unquote_plus(name)) else part)
    return "&".join(parts)


def redact_url(url: str, keys: KeyMatcher | None = None) -> str:
    """``url`` with the values of sensitive query parameters masked (``Referer``, say)."""
    head, mark, rest = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = rest.partition("#")
    return f"{head}?{redact_query(query, keys)}{hash_mark}{fragment}"


def redact_environ(environ: dict[str, Any]) -> dict[str, str]:
    """The handshake's HTTP headers (``HTTP_*``) and query string, masked.

    A header is masked whole when its name is sensitive (``HTTP_X_API_KEY`` is ``X-Api-Key``);
    otherwise a URL in it (``Referer``) has its sensitive query parameters masked. The connect
    URL's query string is shown as ``(query)``, masked the same way. The rest of ``environ``
    is noise.
    """
    keys = redact_keys()
    headers = {}
    for k, v in environ.items():
        if not k.startswith("HTTP_"):
            continue
        name = k[5:].replace("_", "-").title()
        headers[name] = REDACTED if keys(name) else redact_url(str(v), keys)[:MAX_STRING]
    # The query string carries Socket.IO's own parameters and, for some clients, tokens.
    query = str(environ.get("QUERY_STRING", ""))
    if query:
        headers["(query)"] = redact_query(query, keys)[:MAX_STRING]
    return headers
