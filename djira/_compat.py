"""Call user hooks written in either djira's or DRF's signature."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1024)
def positional_arity(func: Callable[..., Any]) -> int:
    """How many positional arguments a bound method takes (``*args`` counts as many)."""
    params = inspect.signature(func).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 99
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def call_flexibly(method: Callable[..., Any], *args: Any) -> Any:
    """Call ``method`` with as many of ``args`` as it accepts.

    Lets ``has_permission(self, scope)`` (djira's seed style) and
    ``has_permission(self, request, view)`` (DRF style) both work.
    """
    func = getattr(method, "__func__", method)
    bound = 1 if hasattr(method, "__self__") else 0
    return method(*args[: positional_arity(func) - bound])
