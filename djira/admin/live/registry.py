"""Which models have a live admin in this process, and their observers (by model label)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.db.models import Model

    from djira.observers.model import ModelObserver

lock = threading.Lock()
#: model label -> the admin the live pages of that model use (the last one made live).
admins: dict[str, ModelAdmin[Any]] = {}
#: model label -> its observer (built once per process, never replaced: signals hold it).
observers: dict[str, ModelObserver] = {}


def object_room(model: type[Model], pk: Any) -> str:
    """The room of one row: its change form's pushes and presence."""
    return f"{model._meta.model_name}__{pk}"


def model_room(model: type[Model]) -> str:
    """The changelist's room of an admin that does not partition its rows."""
    return str(model._meta.model_name)


def get_live_admin(label: str) -> ModelAdmin[Any] | None:
    """The live admin of the model ``app_label.model_name`` (lower case), if any."""
    return admins.get(label.lower())


def get_observer(model: type[Model]) -> ModelObserver | None:
    return observers.get(model._meta.label_lower)


def partitions(model_admin: ModelAdmin[Any]) -> bool:
    """Whether ``model_admin`` declares its own changelist rooms (``get_live_rooms``).

    The mixin's default carries ``djira_default``; an override does not.
    """
    method = getattr(type(model_admin), "get_live_rooms", None)
    return method is not None and not getattr(method, "djira_default", False)
