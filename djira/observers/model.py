"""``ModelObserver``: pushes a model's creates, updates and deletes after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from djira.observers.base import BaseObserver, Item, as_rooms, call_with_accepted
from djira.observers.batch import CREATE, DELETE, UPDATE, Change, pending, record
from djira.serializer_fields import representation

if TYPE_CHECKING:
    from djira.scope import Scope

logger = logging.getLogger("djira")

# Where the pre-change state waits between pre_* and post_* signals, per observer.
_OLD = "_djira_old_state"


class ModelObserver(BaseObserver):
    """Observe ``post_save``/``post_delete`` (and opt-in ``m2m_changed``) of one model.

    :param model: the model class.
    :param serializer_class: DRF serializer for ``data``; default ``{"pk": ...}``.
    :param m2m: also push an ``update`` when a many-to-many relation of a row changes.

    Defaults: a change goes to rooms ``"<model_name>"`` and ``"<model_name>__<pk>"``; a
    subscription without ``pk`` joins ``"<model_name>"``, one with ``pk`` joins
    ``"<model_name>__<pk>"`` after ``get_object()`` (so the hook's object permissions
    decide). When ``rooms`` is customized, the row's rooms before the transaction are read
    from the database on its first save, so a row that leaves a room sends ``delete`` there.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        model: type[Model],
        serializer_class: Any = None,
        *,
        m2m: bool = False,
    ) -> None:
        super().__init__(func, serializer_class)
        self.model = model
        self.m2m = m2m
        self.model_name = model._meta.model_name

    def connect(self) -> None:
        uid, model = f"djira:{self.uid}", self.model
        # weak=False: these bound methods are the observer's only receivers; a weak
        # reference would leave them to the garbage collector's timing.
        pre_save.connect(self._pre_save, sender=model, weak=False, dispatch_uid=uid + ":pre")
        post_save.connect(self._post_save, sender=model, weak=False, dispatch_uid=uid + ":save")
        post_delete.connect(self._post_delete, sender=model, weak=False, dispatch_uid=uid + ":del")
        if self.m2m:
            throughs: list[Any] = [f.remote_field.through for f in model._meta.many_to_many]
            # Relations declared on other models too (ManyToManyRel has ``through``).
            throughs += [
                getattr(rel, "through", None)
                for rel in model._meta.related_objects
                if rel.many_to_many
            ]
            for through in dict.fromkeys(t for t in throughs if t is not None):
                m2m_changed.connect(
                    self._m2m_changed,
                    sender=through,
                    weak=False,
                    dispatch_uid=f"{uid}:m2m:{through._meta.label}",
                )

    # -- hooks ----------------------------------------------------------------------------

    def default_subscribing_rooms(self, hook: Any, scope: Scope) -> list[str]:
        if self.default_rooms_need_orm(hook, scope):
            # 404 for a missing row, 403 unless the hook's object permissions allow it.
            return [f"{self.model_name}__{hook.get_object().pk}"]
        return [str(self.model_name)]

    def default_rooms_need_orm(self, hook: Any, scope: Scope) -> bool:
        return scope.pk is not None and hasattr(hook, "get_object")

    def get_rooms(self, hook: Any, instance: Model, action: str = UPDATE) -> list[str]:
        if self._rooms is None:
            return [str(self.model_name), f"{self.model_name}__{instance.pk}"]
        return as_rooms(
            call_with_accepted(self._rooms, hook, instance, action=action),
            f"'{self.name}' rooms",
        )

    def serialize(self, hook: Any, instance: Model, action: str) -> Any:
        if self._serializer is not None:
            return call_with_accepted(self._serializer, hook, instance, action=action)
        if self.serializer_class is not None:
            context = {"hook": hook, "action": action}
            return representation(self.serializer_class, instance, context=context)
        return {"pk": instance.pk}

    # -- signal receivers (run inside save(); never raise into it) ------------------------

    def _remember_old(self, instance: Model, using: str) -> None:
        """Keep the row's rooms before this transaction, if rooms are customized."""
        if self._rooms is None or instance.pk is None:
            return
        queued = pending(self, instance.pk, using)
        if queued is not None and (queued.type == CREATE or queued.old_rooms is not None):
            return  # the state before the transaction is already known
        old = type(instance)._base_manager.using(using).filter(pk=instance.pk).first()
        if old is not None:
            rooms = self.get_rooms(self.get_context_hook(), old)
            instance.__dict__.setdefault(_OLD, {})[id(self)] = (old, rooms)

    def _take_old(self, instance: Model) -> tuple[Any, list[str] | None]:
        old = instance.__dict__.get(_OLD, {}).pop(id(self), None)
        return old if old is not None else (None, None)

    def _pre_save(
        self, sender: Any, instance: Model, raw: bool = False, using: str = "default", **kwargs: Any
    ) -> None:
        if raw or instance._state.adding:
            return
        try:
            self._remember_old(instance, using)
        except Exception:
            logger.exception("%r failed before a save of %r", self, instance)

    def _post_save(
        self,
        sender: Any,
        instance: Model,
        created: bool = False,
        raw: bool = False,
        using: str = "default",
        **kwargs: Any,
    ) -> None:
        if raw:  # loaddata: fixtures are not changes anyone subscribed to
            return
        try:
            old, old_rooms = self._take_old(instance)
            kind = CREATE if created else UPDATE
            change = Change(
                self, instance.pk, kind, instance, old_rooms=old_rooms, old_instance=old
            )
            record(change, using)
        except Exception:
            logger.exception("%r failed after a save of %r", self, instance)

    def _post_delete(
        self, sender: Any, instance: Model, using: str = "default", **kwargs: Any
    ) -> None:
        try:
            record(self._delete_change(instance), using)
        except Exception:
            logger.exception("%r failed after a delete of %r", self, instance)

    def _delete_change(self, instance: Model) -> Change:
        # Taken now: after the delete, Django sets the instance's pk to None.
        hook = self.get_context_hook()
        rooms = self.get_rooms(hook, instance, DELETE)
        data = self.serialize(hook, instance, DELETE)
        return Change(self, instance.pk, DELETE, instance, data=data, rooms=rooms)

    def _m2m_changed(
        self,
        sender: Any,
        instance: Model,
        action: str,
        model: type[Model],
        pk_set: set[Any] | None,
        using: str = "default",
        **kwargs: Any,
    ) -> None:
        try:
            targets: list[Model] = [instance] if isinstance(instance, self.model) else []
            if model is self.model and pk_set:
                targets += list(self.model._base_manager.using(using).filter(pk__in=pk_set))
            if action in ("pre_add", "pre_remove", "pre_clear"):
                for target in targets:
                    self._remember_old(target, using)
            elif action in ("post_add", "post_remove", "post_clear"):
                for target in targets:
                    old, old_rooms = self._take_old(target)
                    record(
                        Change(
                            self, target.pk, UPDATE, target, old_rooms=old_rooms, old_instance=old
                        ),
                        using,
                    )
        except Exception:
            logger.exception("%r failed on m2m_changed of %r", self, instance)

    # -- explicit announcements -----------------------------------------------------------

    def notify(
        self, instances: Iterable[Model] | Model, type: str = UPDATE, using: str | None = None
    ) -> None:
        """Announce changes signals never see (``bulk_create``, ``QuerySet.update``, raw SQL).

        Call it after the write, in the same transaction if there is one; the pushes leave
        after commit like any other. For ``"delete"``, pass the instances before deleting.

        :param instances: model instances or a queryset (evaluated now).
        :param type: ``"create"``, ``"update"`` or ``"delete"``.
        """
        assert type in (CREATE, UPDATE, DELETE), (
            f"notify type should be create/update/delete, not {type!r}."
        )
        if isinstance(instances, Model):
            instances = [instances]
        for instance in instances:
            alias = using or instance._state.db or "default"
            if type == DELETE:
                record(self._delete_change(instance), alias)
            else:
                record(Change(self, instance.pk, type, instance), alias)

    # -- delivery -------------------------------------------------------------------------

    def changes_to_items(self, hook: Any, change: Change) -> list[Item]:
        if change.type == DELETE:
            if change.old_rooms is not None and change.old_instance is not None:
                # Subscribers saw the row as it was before this transaction.
                data = self.serialize(hook, change.old_instance, DELETE)
                return [(room, DELETE, data) for room in change.old_rooms]
            return [(room, DELETE, change.data) for room in change.rooms or []]
        assert change.type is not None
        instance = change.instance
        rooms = self.get_rooms(hook, instance, change.type)
        data = self.serialize(hook, instance, change.type)
        if change.type == CREATE or change.old_rooms is None:
            return [(room, change.type, data) for room in rooms]
        old = change.old_rooms
        items: list[Item] = []
        gone = [room for room in old if room not in rooms]
        if gone:
            # The row left these rooms: tell them with the state they were allowed to see.
            old_data = self.serialize(hook, change.old_instance, DELETE)
            items += [(room, DELETE, old_data) for room in gone]
        items += [(room, UPDATE if room in old else CREATE, data) for room in rooms]
        return items
