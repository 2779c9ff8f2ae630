"""JSON Schema (the catalog's dialect, draft 7) as TypeScript type expressions.

Only what ``djira.asyncapi.schemas`` produces needs a faithful rendering: DRF serializers'
fields (nullable as a ``type`` list, choices as ``enum``, nested serializers as inline
objects, ``many=True`` as arrays), the shared envelopes and ``$ref`` to components. Anything
the schema does not pin down becomes ``unknown``, never ``any``: a front end must look at a
value it cannot know before using it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from djira.asyncapi.schemas import Schema

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_WORDS = re.compile(r"[A-Za-z0-9]+")
COMPONENTS = "#/components/schemas/"
_PRIMITIVES = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}


def pascal(text: str) -> str:
    """``set_password`` -> ``SetPassword``; a leading digit gets an underscore."""
    name = "".join(w[:1].upper() + w[1:] for w in _WORDS.findall(text)) or "Unnamed"
    return f"_{name}" if name[0].isdigit() else name


def prop_name(name: str) -> str:
    """A property key as TypeScript accepts it: bare when it is an identifier, else quoted."""
    return name if _IDENTIFIER.match(name) else json.dumps(name)


def literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def comment(text: str, indent: str) -> str:
    """A JSDoc comment (one line when short), ``*/`` defused."""
    lines = [line.rstrip() for line in text.replace("*/", "*\\/").strip().splitlines()]
    if not lines:
        return ""
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    body = "".join(f"{indent} *{' ' + line if line else ''}\n" for line in lines)
    return f"{indent}/**\n{body}{indent} */\n"


def union(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    if "unknown" in unique:
        return "unknown"
    return " | ".join(unique) if unique else "never"


def _array_of(item: str) -> str:
    return f"({item})[]" if " " in item and not item.startswith(("{", "Record<")) else f"{item}[]"


class TypeWriter:
    """Renders schemas; ``reference(name)`` maps a component's key to its TypeScript name."""

    def __init__(self, reference: Callable[[str], str]) -> None:
        self.reference = reference

    def render(self, schema: Any, indent: str = "") -> str:
        if not isinstance(schema, dict):
            return "unknown"
        if "x-ts" in schema:  # a type the module declared itself (a route's query)
            return str(schema["x-ts"])
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENTS):
            return self.reference(ref.removeprefix(COMPONENTS))
        if "const" in schema:
            return literal(schema["const"])
        if isinstance(schema.get("enum"), list):
            return union([literal(v) for v in schema["enum"]])
        for combinator in ("anyOf", "oneOf"):
            if isinstance(schema.get(combinator), list):
                return union([self.render(s, indent) for s in schema[combinator]])
        kinds = schema.get("type")
        if kinds is None:
            return "unknown"
        if isinstance(kinds, str):
            kinds = [kinds]
        return union([self._kind(str(kind), schema, indent) for kind in kinds])

    def _kind(self, kind: str, schema: Schema, indent: str) -> str:
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        if kind == "array":
            return _array_of(self.render(schema.get("items"), indent))
        if kind == "object":
            return self.object(schema, indent)
        return "unknown"

    def object(self, schema: Schema, indent: str = "", *, extra: str | None = None) -> str:
        """An object type; ``extra`` overrides what ``additionalProperties`` allows."""
        properties: dict[str, Schema] = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        additional = schema.get("additionalProperties")
        if extra is None and additional not in (None, False):
            extra = "unknown" if additional is True else self.render(additional, indent)
        if not properties:
            return f"Record<string, {extra or 'unknown'}>"
        inner = indent + "  "
        lines = []
        for name, prop in properties.items():
            doc = prop.get("description") if isinstance(prop, dict) else None
            if isinstance(doc, str) and not doc.startswith(("Any JSON value", "Primary key")):
                lines.append(comment(doc, inner))
            optional = "" if name in required else "?"
            lines.append(f"{inner}{prop_name(name)}{optional}: {self.render(prop, inner)};\n")
        if extra:
            lines.append(f"{inner}[key: string]: {extra} | undefined;\n")
        return "{\n" + "".join(lines) + indent + "}"
