"""One observer per live model: what turns its committed changes into pushes.

Each model whose admin is live gets a small holder class, named after the model, carrying
a ``ModelObserver`` (djira.observers). Its uid (``djira.admin.live.observers.Live_<app>_<model>
.changes``) is the same in every process that builds it, so a save in a shell or a worker
reaches the servers through the delivery backend like any other push.

While no live page of the model is open anywhere, the observer sees no save at all
(``LiveObserver``, djira.admin.live.watching): nothing is written, in any process.

A push carries only ``{"pk": ...}``: what a page shows of the row is rendered afterwards, by
the admin's own code, for the user looking at it (djira.admin.live.rows). Rooms:

- ``"<model_name>"``: every change, for changelists of users the admin lets view the model;
- ``"<model_name>__<pk>"``: the row's own room, for its change form (with presence);
- an admin that overrides ``get_live_rooms`` partitions the changelist room instead (its
  ``get_queryset`` hides rows from some users): a change then goes only to the rooms the
  row is in, and a row leaving a room sends ``delete`` there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db.models import Model

from djira.admin.live import registry
from djira.admin.live.access import subscribing_rooms
from djira.admin.live.watching import is_watched
from djira.observers.model import ModelObserver

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


def make_live(model_admin: ModelAdmin[Any]) -> ModelObserver:
    """Make ``model_admin``'s model push its changes; idempotent per model."""
    model = model_admin.model
    label = model._meta.label_lower
    with registry.lock:
        registry.admins[label] = model_admin
        found = registry.observers.get(label)
        if found is None:
            found = registry.observers[label] = _build(model, registry.partitions(model_admin))
    return found


class LiveObserver(ModelObserver):
    """A ``ModelObserver`` that sees nothing while no live page of its model is open
    (djira.admin.live.watching): such a save writes no push, in any process."""

    announce_presence = True

    def _pre_save(self, sender: Any, instance: Model, *args: Any, **kwargs: Any) -> None:
        if is_watched(self.model._meta.label_lower):
            super()._pre_save(sender, instance, *args, **kwargs)

    def _post_save(self, sender: Any, instance: Model, *args: Any, **kwargs: Any) -> None:
        if is_watched(self.model._meta.label_lower):
            super()._post_save(sender, instance, *args, **kwargs)

    def _post_delete(self, sender: Any, instance: Model, *args: Any, **kwargs: Any) -> None:
        if is_watched(self.model._meta.label_lower):
            super()._post_delete(sender, instance, *args, **kwargs)


def _changes(self: Any, **kwargs: Any) -> None:
    return None  # the default push: {"pk": ...} to the rooms below


def _build(model: type[Model], partitioned: bool) -> ModelObserver:
    found = LiveObserver(_changes, model)
    found.subscribing_rooms(subscribing_rooms)
    if partitioned:
        # Customized rooms make the observer read the row's previous rooms before each
        # update (one query), so a row leaving a user's partition is a delete there.
        found.rooms(_partitioned_rooms)
    name = f"Live_{model._meta.app_label}_{model._meta.model_name}"
    # A class statement's equivalent: ``type`` calls ``__set_name__``, which binds the
    # observer (its uid from this module and these names) and connects the model's signals.
    type(name, (), {"__module__": __name__, "__qualname__": name, "changes": found})
    return found


def _partitioned_rooms(hook: Any, instance: Model) -> Iterable[str]:
    model_admin = registry.get_live_admin(instance._meta.label_lower)
    rooms: list[str] = []
    if model_admin is not None:
        rooms = list(model_admin.get_live_rooms(instance))  # type: ignore[attr-defined]
    return [*rooms, registry.object_room(type(instance), instance.pk)]
