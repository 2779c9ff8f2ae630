"""``SignalObserver``: pushes on any Django signal, after the transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

from djira.observers.base import BaseObserver, Item, as_rooms, call_with_accepted
from djira.observers.batch import CREATE, DELETE, UPDATE, Change, record
from djira.serializer_fields import representation

logger = logging.getLogger("djira")


class SignalObserver(BaseObserver):
    """Observe any signal (``m2m_changed``, ``user_logged_in``, your own...).

    :param signal: the ``django.dispatch.Signal``.
    :param sender: only this sender's sends (as ``Signal.connect``).
    :param type: the push ``type``; default ``"update"`` (``"create"`` when the signal
        says ``created=True``).

    The rooms and data hooks get the signal's keyword arguments (``instance``, ``action``,
    ``pk_set``...), taken when the signal fires since they may not survive until commit:

        @books_shared.rooms
        def shared_rooms(self, instance, **kwargs):
            yield f"book__{instance.pk}"

    Default rooms: the observer's name; default data: the serializer (or ``{"pk"}``) of
    the signal's ``instance``, else ``{}``. Every send is a separate push (no coalescing).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        signal: Signal,
        sender: Any = None,
        serializer_class: Any = None,
        *,
        type: str = UPDATE,
    ) -> None:
        super().__init__(func, serializer_class)
        self.signal = signal
        self.sender = sender
        self.type = type

    def connect(self) -> None:
        self.signal.connect(
            self._receive, sender=self.sender, weak=False, dispatch_uid=f"djira:{self.uid}"
        )

    def get_rooms(self, hook: Any, kwargs: dict[str, Any]) -> list[str]:
        if self._rooms is None:
            return [self.name]
        return as_rooms(call_with_accepted(self._rooms, hook, **kwargs), f"'{self.name}' rooms")

    def serialize(self, hook: Any, kwargs: dict[str, Any]) -> Any:
        if self._serializer is not None:
            return call_with_accepted(self._serializer, hook, **kwargs)
        instance = kwargs.get("instance")
        if instance is None:
            return {}
        if self.serializer_class is not None:
            return representation(self.serializer_class, instance, context={"hook": hook})
        return {"pk": getattr(instance, "pk", None)}

    def _receive(self, sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal", None)
        kwargs["sender"] = sender
        try:
            hook = self.get_context_hook()
            kind = CREATE if kwargs.get("created") else self.type
            extra = dict(kwargs)
            if "action" in extra:  # the body's ``action`` is the push type; keep m2m's apart
                extra["signal_action"] = extra.pop("action")
            change = Change(
                self,
                object(),  # no coalescing: every send is its own push
                kind,
                kwargs.get("instance"),
                data=self.serialize(hook, kwargs),
                rooms=self.get_rooms(hook, kwargs),
                extra=extra,
            )
            record(change, kwargs.get("using"))
        except Exception:
            logger.exception("%r failed on a signal from %r", self, sender)

    def changes_to_items(self, hook: Any, change: Change) -> list[Item]:
        assert change.type is not None
        return [(room, change.type, change.data) for room in change.rooms or []]


__all__ = ["SignalObserver", "CREATE", "UPDATE", "DELETE"]
