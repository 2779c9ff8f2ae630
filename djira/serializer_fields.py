"""A model serializer's fields, built once per class and copied for each instance.

DRF builds a ``ModelSerializer``'s fields again for every instance: it deep-copies the
declared fields, introspects the model, maps each model field to a serializer field and
instantiates it with its validators. For a single-object reply that is about a quarter of
the request's CPU (``bench/requests.py``), spent to produce the same fields every time.

For a serializer class whose field building is DRF's own (no override of ``get_fields``,
``get_field_names``, ``build_field``, ``get_extra_kwargs``... nor of ``fields``), the built
fields depend only on the class and the model, so djira builds them once (the *template*,
never bound) and gives each instance fresh copies:

- fields of DRF's own classes without child fields (``CharField``, ``IntegerField``,
  ``PrimaryKeyRelatedField``, ``HiddenField``...) are copied attribute by attribute, with
  their own ``validators`` list, ``error_messages`` and ``style`` dicts, and ``default``
  deep-copied unless it is a plain value or a function: what a serializer may change on its
  fields stays its own;
- any other field (your field classes, nested serializers, ``ListField``, ``many=True``
  relations) is deep-copied, as DRF itself copies declared fields.

Each copy is then bound to its serializer as DRF binds fields. A serializer whose
``__init__`` already read ``self.fields`` keeps what DRF built. Generic hooks'
``get_serializer()`` and observers' pushes build their serializers with ``make_serializer``.
``REUSE_SERIALIZER_FIELDS: False`` turns this off; templates are dropped when the
``REST_FRAMEWORK`` settings change.
"""

from __future__ import annotations

import copy
import threading
import types
from typing import Any

from django.core.signals import setting_changed
from rest_framework.fields import Field, empty
from rest_framework.serializers import (
    BaseSerializer,
    HyperlinkedModelSerializer,
    ListSerializer,
    ModelSerializer,
)
from rest_framework.utils.serializer_helpers import BindingDict

from djira.settings import jira_settings

# What ModelSerializer.get_fields() calls to build the fields: overriding any of them can
# make the fields depend on the instance (its context, its data), so no template then.
_BUILDERS = (
    "fields",
    "get_fields",
    "get_field_names",
    "get_default_field_names",
    "get_extra_kwargs",
    "get_uniqueness_extra_kwargs",
    "include_extra_kwargs",
    "build_field",
    "build_standard_field",
    "build_relational_field",
    "build_nested_field",
    "build_property_field",
    "build_url_field",
    "build_unknown_field",
)

# Modules whose field classes set their state only in ``__init__`` and ``bind``.
_DRF_FIELD_MODULES = frozenset({"rest_framework.fields", "rest_framework.relations"})

# Containers a serializer may change in place on its own fields.
_OWN_CONTAINERS = ("_validators", "error_messages", "style")

_PLAIN = (str, int, float, bool, bytes, type(None), types.FunctionType, types.BuiltinFunctionType)

_lock = threading.Lock()
# Serializer class -> its unbound template fields, or None when it builds its own.
_templates: dict[type, dict[str, Field] | None] = {}


def _eligible(cls: type) -> bool:
    if not issubclass(cls, ModelSerializer):
        return False
    hyperlinked = issubclass(cls, HyperlinkedModelSerializer)
    base: type = HyperlinkedModelSerializer if hyperlinked else ModelSerializer
    return all(getattr(cls, name) is getattr(base, name) for name in _BUILDERS)


def _copy(field: Field) -> Field:
    """A fresh, unbound copy of template ``field``, as independent as DRF's deep copy."""
    cls = type(field)
    state = field.__dict__
    if cls.__module__ not in _DRF_FIELD_MODULES or any(
        isinstance(value, Field) for value in state.values()
    ):
        return copy.deepcopy(field)
    clone: Field = object.__new__(cls)
    own = clone.__dict__
    own.update(state)
    for name in _OWN_CONTAINERS:
        value = own.get(name)
        if value is not None:
            own[name] = value.copy()
    default = own.get("default", empty)
    if default is not empty and not isinstance(default, _PLAIN):
        own["default"] = copy.deepcopy(default)
    return clone


def _template(serializer: BaseSerializer[Any]) -> dict[str, Field] | None:
    cls = type(serializer)
    try:
        return _templates[cls]
    except KeyError:
        pass
    # Built from this instance: with DRF's own builders, the fields do not depend on it.
    template = serializer.get_fields() if _eligible(cls) else None  # type: ignore[attr-defined]
    with _lock:
        return _templates.setdefault(cls, template)


def make_serializer(cls: type[BaseSerializer[Any]], *args: Any, **kwargs: Any) -> Any:
    """``cls(*args, **kwargs)``, with its class's fields reused unless turned off."""
    serializer = cls(*args, **kwargs)
    if jira_settings.REUSE_SERIALIZER_FIELDS:
        reuse_fields(serializer)
    return serializer


def representation(cls: type[BaseSerializer[Any]], instance: Any, **kwargs: Any) -> Any:
    """``make_serializer(cls, instance, **kwargs).data``, the serializer then unbound."""
    serializer = make_serializer(cls, instance, **kwargs)
    data = serializer.data
    unbind(serializer)
    return data


def reuse_fields(serializer: BaseSerializer[Any]) -> BaseSerializer[Any]:
    """Give ``serializer`` (or a list serializer's child) copies of its class's fields."""
    target: Any = serializer.child if isinstance(serializer, ListSerializer) else serializer
    if "fields" in target.__dict__:  # its __init__ already built (and maybe changed) them
        return serializer
    template = _template(target)
    if template is not None:
        fields = BindingDict(target)
        for name, field in template.items():
            fields[name] = _copy(field)
        target.__dict__["fields"] = fields
    return serializer


def _forget_templates(*, setting: str, **kwargs: Any) -> None:
    # Fields read DRF's settings when they are built (COERCE_DECIMAL_TO_STRING, formats...).
    if setting == "REST_FRAMEWORK":
        with _lock:
            _templates.clear()


setting_changed.connect(_forget_templates)


def unbind(serializer: Field) -> None:
    """Break the reference cycles DRF's binding makes in ``serializer``'s tree of fields,
    once it is done with (a request's reply or a push built).

    A bound field points back at its parent (``field.parent``), and the parent holds its
    fields (a serializer's ``fields``, a list serializer's or a ``ListField``'s ``child``, a
    relation's ``child_relation``): every serializer is a reference cycle. Reference counting
    cannot free a cycle, so each request's serializer, and all it reaches (the instance, the
    context with the scope and the hook), would wait for the cyclic garbage collector, whose
    collections pause every connection (``bench/soak.py`` prints them). Dropping the
    serializers' ``fields`` (a cached property: DRF builds them again if read later) and the
    children's ``parent`` leaves no cycle. Read ``data`` before, not after.
    """
    stack: list[Any] = [serializer]
    while stack:
        field = stack.pop()
        attributes = field.__dict__
        fields = attributes.pop("fields", None)
        if isinstance(fields, BindingDict):
            stack.extend(fields.values())
        for name in ("child", "child_relation"):
            child: Any = attributes.get(name)
            if isinstance(child, Field):
                child.parent = None  # type: ignore[assignment] # no longer bound
                stack.append(child)
