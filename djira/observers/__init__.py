"""Observers: push database changes to the sockets subscribed to them.

    from djira.observers import observer

    class BookAPIHook(ModelAPIHook):
        @observer(Book, BookSerializer)
        def books(self, **kwargs):
            return None

See docs/observers.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model
from django.dispatch import Signal

from djira.delivery.outbox import emit
from djira.observers.base import BaseObserver, BoundObserver
from djira.observers.model import ModelObserver
from djira.observers.signal import SignalObserver

__all__ = [
    "BaseObserver",
    "BoundObserver",
    "ModelObserver",
    "SignalObserver",
    "emit",
    "model_observer",
    "observer",
    "signal_observer",
]


def model_observer(
    model: type[Model], serializer_class: Any = None, **options: Any
) -> Callable[[Callable[..., Any]], ModelObserver]:
    """Decorate a hook method to observe ``model``'s saves and deletes (``ModelObserver``).

    ``presence=True``: push ``join``/``leave`` to the room when a connection enters or leaves.
    """
    if serializer_class is None:
        serializer_class = options.pop("serializer", None)

    presence = bool(options.pop("presence", False))

    def decorator(func: Callable[..., Any]) -> ModelObserver:
        found = ModelObserver(func, model, serializer_class, **options)
        found.announce_presence = presence
        return found

    return decorator


def signal_observer(
    signal: Signal, sender: Any = None, serializer_class: Any = None, **options: Any
) -> Callable[[Callable[..., Any]], SignalObserver]:
    """Decorate a hook method to push on any Django signal (``SignalObserver``)."""
    if serializer_class is None:
        serializer_class = options.pop("serializer", None)

    presence = bool(options.pop("presence", False))

    def decorator(func: Callable[..., Any]) -> SignalObserver:
        found = SignalObserver(func, signal, sender, serializer_class, **options)
        found.announce_presence = presence
        return found

    return decorator


def observer(
    target: Any, serializer_class: Any = None, **options: Any
) -> Callable[[Callable[..., Any]], Any]:
    """``@observer(Model, Serializer)`` as in the original djira README.

    Also ``@observer(signal, sender=...)`` for any other signal.
    """
    if isinstance(target, Signal):
        return signal_observer(target, options.pop("sender", None), serializer_class, **options)
    return model_observer(target, serializer_class, **options)
