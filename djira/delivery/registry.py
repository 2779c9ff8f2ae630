"""The observers this process has declared, by uid: what delivery needs to know of them.

Observers add themselves when their hook class is created (``BaseObserver.__set_name__``),
so delivery (presence's join/leave pushes) and the console find them without importing
the hook classes' modules or walking ``APIHook``'s subclasses.
"""

from __future__ import annotations

from typing import Any

_observers: dict[str, Any] = {}


def add(uid: str, observer: Any) -> None:
    _observers[uid] = observer


def get(uid: str) -> Any:
    """The observer with ``uid`` in this process, or ``None``."""
    return _observers.get(uid)


def uids() -> list[str]:
    return list(_observers)
