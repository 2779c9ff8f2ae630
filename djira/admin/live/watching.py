"""Whether anyone watches a model's live pages: a flag every process can read.

While a live page of a model is open, its server keeps the flag ``live:<app_label>.<model>``
raised in the registry of live processes (``djira.delivery.processes``: database rows,
Redis keys, or this process's memory): when the page is rendered, when it subscribes, and
every ``RENEW`` seconds while it stays open (the page's script asks, djira.admin.live.hooks).
A flag lives ``LIFETIME`` seconds, so a closed page stops costing anything soon after.

A saving process (a server, a shell, a worker) reads the flag before the model's observer
makes pushes, at most once per ``CACHE`` seconds per model (``RENEW`` seconds once it read
that someone watches): a save of a model nobody watches then writes nothing to the outbox.
A page may miss a save whose process read the flag just before the page raised it; the
page asks for what it shows again ``SETTLE`` seconds after subscribing, by which time such
a save has committed (unless its transaction outlived that time).

Where the flag cannot be shared (``HEARTBEAT_INTERVAL`` ``None`` with a backend that
crosses processes), or cannot be read, every save pushes, as if watched.
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger("djira")

#: How long a raised flag lives (seconds) unless renewed.
LIFETIME = 30.0
#: How often an open page renews its model's flag (seconds).
RENEW = 10.0
#: How long a process trusts a read of "nobody watches" (seconds). A read of "watched" is
#: trusted ``RENEW`` seconds: believing it too long costs only pushes nobody receives.
CACHE = 1.0
#: How long after subscribing a page asks for its rows again (seconds): ``CACHE`` and a
#: margin for the racing save's commit.
SETTLE = 2.0

_lock = threading.Lock()
#: label -> (watched, monotonic time until which it is trusted): what this process read.
_read: dict[str, tuple[bool, float]] = {}
#: label -> monotonic time this process last raised its flag (renewals closer than this
#: are one write).
_raised: dict[str, float] = {}


def flag_name(label: str) -> str:
    return f"live:{label.lower()}"


def _shared() -> bool:
    """Whether a flag raised here is seen by every process that may save the model."""
    from djira.delivery.backends import get_backend, get_registry

    # The memory backend serves one process: its own flags are all there is to know.
    return get_registry().shared or get_backend().kind == "memory"


def watch(label: str) -> None:
    """Raise ``label``'s flag for ``LIFETIME`` seconds (a sync call; may write to the
    database). A page of the model is open, or about to be."""
    from djira.delivery.backends import get_registry

    now = time.monotonic()
    with _lock:
        # This process's own saves see it at once, whatever they read before.
        _read[label] = (True, now + RENEW)
        if _raised.get(label, 0.0) > now - RENEW / 2:
            return  # raised a moment ago by another page of this process
        _raised[label] = now
    try:
        get_registry().flag(flag_name(label), LIFETIME)
    except Exception as exc:  # the page works; other processes' saves may go unseen
        with _lock:
            _raised.pop(label, None)
        logger.warning("djira: could not raise the live admin's flag %r (%s)", label, exc)


def is_watched(label: str) -> bool:
    """Whether a live page of ``label`` may be open in any process (sync; a read of the
    registry at most once per ``CACHE`` seconds, else this process's memory)."""
    now = time.monotonic()
    found = _read.get(label)
    if found is not None and found[1] > now:
        return found[0]
    from djira.delivery.backends import get_registry

    try:
        watched = not _shared() or get_registry().raised(flag_name(label))
    except Exception:
        logger.exception("djira: could not read the live admin's flag %r; pushing", label)
        watched = True
    with _lock:
        _read[label] = (watched, now + (RENEW if watched else CACHE))
    return watched


def forget() -> None:
    """Drop what this process read and raised (tests, after a change of settings)."""
    with _lock:
        _read.clear()
        _raised.clear()
