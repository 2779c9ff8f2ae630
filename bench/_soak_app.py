"""Soak benchmark, server side: the example project as shipped plus a ``soak`` hook.

``soak`` has two routes for bench/soak.py, and one for bench/garbage.py:

- ``touch`` (POST ``{"pk", "body"}``): the writer saves an article, which the example's
  ``@observer(Article, ...)`` pushes to rooms ``article`` and ``article__<pk>``;
- ``stats`` (GET): the server's RSS (KiB, from ``/proc``), its open sockets, the admin
  recorder's count of disconnects by reason since the process started, and the pauses that
  stall every connection at once: the garbage collector's (timed with ``gc.callbacks``) and
  the event loop's lag (how late a 10 ms sleep wakes up), both counted from the first
  ``stats`` call;
- ``garbage`` (GET): a first call collects and turns the garbage collector off; the next
  one counts, by type, the reference cycles left since (what only the collector frees),
  and the references between them, and turns it back on.

    uvicorn --app-dir example bench._soak_app:application
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django.setup()

from blog.models import Article  # noqa: E402 - after django.setup()

from djira.decorators import action  # noqa: E402
from djira.hooks import APIHook  # noqa: E402

PAUSE_BOUNDS_MS = (5, 20, 50)


def _no_pauses() -> dict[str, Any]:
    return {
        "gc": {
            "collections": 0,
            "seconds": 0.0,
            "longest_ms": 0.0,
            "over_ms": {},
            "generations": {},
        },
        "loop": {"samples": 0, "longest_ms": 0.0, "over_ms": {}},
    }


# Counted from the first ``stats`` call (the soak's measured run), not from start-up.
pauses = _no_pauses()
_gc_started = [0.0]


def _count(kind: str, milliseconds: float) -> None:
    record = pauses[kind]
    record["longest_ms"] = max(record["longest_ms"], milliseconds)
    for bound in PAUSE_BOUNDS_MS:
        if milliseconds > bound:
            record["over_ms"][bound] = record["over_ms"].get(bound, 0) + 1


def _timed_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        return
    seconds = time.perf_counter() - _gc_started[0]
    pauses["gc"]["collections"] += 1
    pauses["gc"]["seconds"] += seconds
    # Per generation: collections, milliseconds, longest, garbage objects found.
    generation = pauses["gc"]["generations"].setdefault(str(info["generation"]), [0, 0.0, 0.0, 0])
    generation[0] += 1
    generation[1] += seconds * 1000
    generation[2] = max(generation[2], seconds * 1000)
    generation[3] += info["collected"]
    _count("gc", seconds * 1000)


gc.callbacks.append(_timed_collection)


async def _watch_loop() -> None:
    while True:
        began = time.perf_counter()
        await asyncio.sleep(0.01)
        pauses["loop"]["samples"] += 1
        _count("loop", (time.perf_counter() - began - 0.01) * 1000)


_watcher: list[asyncio.Task[None]] = []


class SoakHook(APIHook):
    event = "soak"

    @action(actions=["POST"])
    def touch(self, scope: Any) -> bool:
        article = Article.objects.get(pk=scope.data["pk"])
        article.body = scope.data["body"]
        article.save()
        return True

    @action(actions=["GET"])
    async def garbage(self, scope: Any) -> dict[str, Any]:
        return census_of_garbage()

    @action(actions=["GET"])
    async def stats(self, scope: Any) -> dict[str, Any]:
        from djira.admin.state import get_recorder

        rss = 0
        with open(f"/proc/{os.getpid()}/status") as status:  # noqa: ASYNC230 - procfs, instant
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        server = scope.server
        recorder = get_recorder(server.djira_consumer)
        if not _watcher:
            pauses.update(_no_pauses())
            _watcher.append(asyncio.create_task(_watch_loop()))
        return {
            "pauses": pauses,
            "rss_kib": rss,
            "sockets": len(server.eio.sockets),
            "disconnects": dict(recorder.disconnects) if recorder else None,
        }


def _garbage_name(obj: Any) -> str:
    kind = type(obj)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if kind.__name__ == "frame":
        return f"frame {obj.f_code.co_filename.rsplit('/', 2)[-2:]} {obj.f_code.co_qualname}"
    if kind.__name__ in ("coroutine", "function", "generator", "async_generator"):
        return f"{kind.__name__} {getattr(obj, '__qualname__', '?')}"
    if kind.__name__ == "method":
        return f"method {getattr(obj.__func__, '__qualname__', '?')}"
    if isinstance(obj, asyncio.Task):
        return f"Task {obj.get_coro().__qualname__}"
    if isinstance(obj, BaseException):
        return f"exception {name}"
    return name


def census_of_garbage() -> dict[str, Any]:
    """A diagnostic, not in the soak: the first call collects and turns the collector off,
    the second counts by type what was left as cyclic garbage since, and turns it back on."""
    import collections

    if gc.isenabled():
        gc.collect()
        gc.disable()
        return {"total": 0, "types": []}
    gc.enable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        counts = collections.Counter(_garbage_name(obj) for obj in gc.garbage)
        total = len(gc.garbage)
        inside = {id(obj) for obj in gc.garbage}
        edges: collections.Counter[str] = collections.Counter()
        for obj in gc.garbage:
            for referent in gc.get_referents(obj):
                if id(referent) in inside:
                    edges[f"{_garbage_name(obj)} -> {_garbage_name(referent)}"] += 1
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return {"total": total, "types": counts.most_common(80), "edges": edges.most_common(80)}


if os.environ.get("DJIRA_SOAK_GC_THRESHOLD"):  # bench/soak.py --gc-threshold
    from django.conf import settings

    from djira.settings import jira_settings

    threshold = tuple(int(n) for n in os.environ["DJIRA_SOAK_GC_THRESHOLD"].split(","))
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "GC_THRESHOLD": threshold}
    jira_settings.reload()

from example.asgi import application  # noqa: E402, F401 - discovers SoakHook too
