"""JSON Schemas of the document: DRF serializers, and the envelopes every hook shares.

Serializers become JSON Schema (draft 7, what AsyncAPI's default schema format extends).

DRF's own OpenAPI mapper (``AutoSchema.map_serializer``) does the field-by-field work and
needs no request; this module turns its OpenAPI 3.0 dialect into plain JSON Schema and
splits a serializer into the shapes a socket actually sees:

- ``output``: what a reply or a push carries (write-only fields left out, every field
  present);
- ``input``: what a request's ``data`` may carry (read-only fields left out);
- ``partial``: ``input`` with nothing required (``PATCH``).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from django.db import models
from rest_framework import serializers
from rest_framework.schemas.openapi import AutoSchema

logger = logging.getLogger("djira")

Shape = Literal["output", "input", "partial"]
Schema = dict[str, Any]

# Python-only regex anchors DRF copies from Django's validators, as ECMAScript spells them
# (in a JavaScript validator ``\z`` would match a literal "z").
_ANCHORS = ((re.compile(r"\\[zZ]"), "$"), (re.compile(r"\\A"), "^"))
_INTEGER_FIELDS = (models.AutoField, models.IntegerField)


class _FieldMapper(AutoSchema):
    """DRF's mapper, with the fields it gets wrong for a socket API corrected."""

    def map_field(self, field: serializers.Field[Any, Any, Any, Any]) -> Schema:
        if isinstance(field, serializers.SerializerMethodField | serializers.ReadOnlyField):
            return {"description": "Computed by the serializer; any JSON value."}
        if isinstance(field, serializers.JSONField):
            return {"description": "Any JSON value."}
        if isinstance(field, serializers.PrimaryKeyRelatedField):
            return self._map_related(field)
        return dict(super().map_field(field))

    def _map_related(self, field: serializers.PrimaryKeyRelatedField[Any]) -> Schema:
        # DRF says "string" for every related pk; most pks are integers.
        queryset: Any = getattr(field, "queryset", None)
        model = getattr(queryset, "model", None) or _related_model(field)
        if model is None:
            return dict(super().map_field(field))
        kind = "integer" if isinstance(model._meta.pk, _INTEGER_FIELDS) else "string"
        return {"type": kind, "description": f"Primary key of a {model.__name__}."}


def _related_model(field: serializers.Field[Any, Any, Any, Any]) -> Any:
    """The model a related field points to, through its model serializer's field.

    For fields with no ``queryset`` (read-only, or ``get_queryset()`` reading the request).
    """
    owner = getattr(getattr(field.parent, "Meta", None), "model", None)
    try:
        return owner._meta.get_field(field.source).related_model if owner else None
    except Exception:  # a source that is no model field ("author.pk", a property)
        return None


def _to_json_schema(value: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as a JSON Schema type union; patterns as ECMAScript.

    Values DRF copies from fields (defaults, choices) become JSON: a ``Decimal``, a date
    or a lazy translation becomes its text, as DRF renders them.
    """
    if isinstance(value, list | tuple):
        return [_to_json_schema(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if not isinstance(value, dict):
        return str(value)
    out = {k: _to_json_schema(v) for k, v in value.items()}
    if out.pop("nullable", False):
        if "type" in out:
            kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*kinds, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    pattern = out.get("pattern")
    if isinstance(pattern, str):
        for anchor, replacement in _ANCHORS:
            pattern = anchor.sub(replacement, pattern)
        out["pattern"] = pattern
    return out


def describe(serializer_class: type[serializers.BaseSerializer[Any]]) -> Schema:
    """The whole serializer, OpenAPI-style (``readOnly``/``writeOnly`` markers), or raise."""
    serializer = serializer_class()
    if not isinstance(serializer, serializers.Serializer):
        # A ListSerializer or a hand-written BaseSerializer: no fields to read.
        return {"description": f"{serializer_class.__name__}: shape not declared."}
    return dict(_to_json_schema(_FieldMapper().map_serializer(serializer)))


def shape(schema: Schema, kind: Shape) -> Schema:
    """One side of a described serializer (see the module docstring)."""
    properties: dict[str, Schema] = schema.get("properties", {})
    if not properties:
        return dict(schema)
    drop = "writeOnly" if kind == "output" else "readOnly"
    kept = {
        name: {k: v for k, v in prop.items() if k not in ("readOnly", "writeOnly")}
        for name, prop in properties.items()
        if not prop.get(drop)
    }
    out: Schema = {"type": "object", "properties": kept}
    if kind == "output":
        out["required"] = list(kept)
    elif kind == "input" and schema.get("required"):
        out["required"] = [name for name in schema["required"] if name in kept]
    return out


def schema_for(serializer_class: type[serializers.BaseSerializer[Any]], kind: Shape) -> Schema:
    """``shape(describe(...))``; a serializer that cannot be built becomes "any JSON"."""
    try:
        return shape(describe(serializer_class), kind)
    except Exception as exc:
        # e.g. a serializer whose fields need a request: say so, do not fail the document.
        logger.info("djira: cannot describe %s: %s", serializer_class.__qualname__, exc)
        return {"description": f"{serializer_class.__name__} could not be described: {exc}"}


# -- shared schemas ---------------------------------------------------------------------

ID = {"type": ["string", "integer"]}
ANY: Schema = {"description": "Any JSON value."}
SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}
QUERY_VALUE = {"anyOf": [SCALAR, {"type": "array", "items": SCALAR}]}
QUERY_VALUE_REF = {"$ref": "#/components/schemas/QueryValue"}
ID_REF = {"$ref": "#/components/schemas/Id"}
ERROR_STATUSES = [400, 401, 403, 404, 405, 413, 429, 500]
ERROR_REPLY: Schema = {
    "type": "object",
    "description": "PROTOCOL.md, 'The reply': a 4xx or 5xx status and DRF's error detail.",
    "properties": {
        "status": {"type": "integer", "enum": ERROR_STATUSES},
        "event": {"type": "string"},
        "namespace": {"type": ["string", "null"]},
        "action": {"type": ["string", "null"]},
        "requestId": {"type": ["string", "integer", "null"]},
        "data": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "detail": {"type": "string"},
                        "allowed": {"type": "array", "items": {"type": "string"}},
                        "wait": {"type": ["number", "null"]},
                        "exception": {"type": "string", "description": "Only with DEBUG."},
                    },
                    "required": ["detail"],
                },
                {
                    "type": "object",
                    "description": "Field errors (400): field name -> messages, as DRF.",
                    "additionalProperties": {},
                },
                {"type": "array", "description": "Non-field errors (400), as DRF."},
            ]
        },
    },
    "required": ["status", "event", "namespace", "action", "requestId", "data"],
}


def connection_refused() -> Schema:
    return {
        "type": "object",
        "description": "Data of Socket.IO's connect_error when djira refuses a connection.",
        "properties": {
            "message": {"type": "string"},
            "status": {"type": "integer", "enum": [401, 403, 500]},
            "data": {"type": "object", "description": "The same fields, for socket.io-client."},
        },
        "required": ["message", "status"],
    }


# -- the registry -------------------------------------------------------------------------


class Schemas:
    """``components.schemas``: serializers by name, each shape once, referenced everywhere."""

    SUFFIXES: dict[Shape, str] = {"output": "", "input": "Input", "partial": "PartialInput"}

    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {
            "ErrorReply": ERROR_REPLY,
            "ConnectionRefused": connection_refused(),
            "Id": ID,
            "QueryValue": QUERY_VALUE,
        }
        self._bases: dict[Any, str] = {}
        self._reserved = set(self.schemas)

    def _base(self, serializer_class: Any) -> str:
        """``Article`` for ``ArticleSerializer``, numbered when the name is taken."""
        if serializer_class not in self._bases:
            name = serializer_class.__name__.removesuffix("Serializer") or "Serializer"
            base, n = name, 1
            # Two serializers of one name in different modules, "BookInputSerializer"
            # beside "BookSerializer", a serializer named like a shared schema.
            while any(base + suffix in self._reserved for suffix in self.SUFFIXES.values()):
                n += 1
                base = f"{name}{n}"
            self._bases[serializer_class] = base
            self._reserved.update(base + suffix for suffix in self.SUFFIXES.values())
        return self._bases[serializer_class]

    def serializer(self, serializer_class: Any, kind: Shape) -> Schema:
        """A reference to the ``kind`` shape of ``serializer_class``, added on first use."""
        name = self._base(serializer_class) + self.SUFFIXES[kind]
        if name not in self.schemas:
            self.schemas[name] = schema_for(serializer_class, kind)
        return {"$ref": f"#/components/schemas/{name}"}
