"""Process-wide tuning a djira server applies once, when its ASGI app is built.

CPython's cyclic garbage collector is the one tuned. A Django process holds a large,
long-lived heap (models, URLconf, DRF serializers' classes, the app registry: hundreds of
thousands of objects), and a Socket.IO server under load keeps many requests in flight, whose
objects get promoted to the oldest generation and soon trigger a full collection. Each full
collection rescans the whole heap with the GIL held: measured on the example project at 64
clients (``bench/collector.py``), one every second or so, each stalling the event loop and every
worker for about 90 ms, in all about 100 µs of CPU per request.

Two well-known remedies, both settings (docs/settings.md):

- ``GC_FREEZE``: after a last collection, ``gc.freeze()`` moves everything loaded by start-up
  into the permanent generation, which collections skip (as Instagram does for Django, and
  as CPython's docs advise before forking workers). Only garbage cycles made of objects that
  existed at start-up are never freed; objects made later are collected as usual.
- ``GC_THRESHOLD``: ``gc.set_threshold(*GC_THRESHOLD)``; a larger first threshold means
  fewer young collections, so fewer in-flight objects promoted to the old generations.
"""

from __future__ import annotations

import gc
import threading

from djira.settings import jira_settings

_lock = threading.Lock()
_tuned = False


def tune_garbage_collector() -> None:
    """Apply ``GC_THRESHOLD`` and ``GC_FREEZE``, once per process."""
    global _tuned
    with _lock:
        if _tuned:
            return
        _tuned = True
        threshold = jira_settings.GC_THRESHOLD
        if threshold is not None:
            gc.set_threshold(*threshold)
        if jira_settings.GC_FREEZE:
            gc.collect()
            gc.freeze()
