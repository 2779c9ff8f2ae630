"""Observer pushes: what each observer declared on a hook sends to its subscribers.

Observers are read defensively, through public attributes (``name``, ``model``,
``serializer_class``, ``type``) and the decorators' results (``_rooms``, ``_serializer``),
so a rework of djira.observers at worst makes a description vaguer, never fails it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from djira.asyncapi.schemas import ANY, ID_REF, Schema, Schemas
from djira.base import APIHook


@dataclass(frozen=True)
class ObserverDoc:
    name: str
    summary: str
    types: list[str]
    room: Schema
    data: Schema
    presence: bool = False  # also pushes join/leave (``presence=True``)


def _room(observer: Any, model_name: str | None) -> Schema:
    custom = getattr(observer, "_rooms", None)
    if custom is not None:
        return {"type": "string", "description": f"Chosen by {custom.__name__}()."}
    if model_name:
        return {
            "type": "string",
            "description": f"'{model_name}' (subscribed without pk) or '{model_name}__<pk>'.",
            "examples": [model_name, f"{model_name}__1"],
        }
    return {"type": "string", "const": str(getattr(observer, "name", ""))}


def _push_data(observer: Any, schemas: Schemas) -> Schema:
    custom = getattr(observer, "_serializer", None)
    if custom is not None:
        return {"description": f"Built by {custom.__name__}()."}
    serializer_class = getattr(observer, "serializer_class", None)
    if serializer_class is not None:
        return schemas.serializer(serializer_class, "output")
    if getattr(observer, "model", None) is not None:
        return {"type": "object", "properties": {"pk": ID_REF}, "required": ["pk"]}
    return ANY


def observer_doc(observer: Any, schemas: Schemas) -> ObserverDoc:
    """How one observer's pushes look (model observers, signal observers, others)."""
    model = getattr(observer, "model", None)
    meta = getattr(model, "_meta", None)
    if meta is not None:
        types = ["create", "update", "delete"]
        summary = f"Committed changes of {meta.label}."
    else:
        # A signal observer's own type; "create" when the signal says created=True.
        types = sorted({str(getattr(observer, "type", "update")), "create"})
        summary = "Sends of a Django signal, after commit."
    return ObserverDoc(
        name=str(observer.name),
        summary=summary,
        types=types,
        room=_room(observer, getattr(meta, "model_name", None)),
        data=_push_data(observer, schemas),
        presence=bool(getattr(observer, "announce_presence", False)),
    )


def observers_of(hook_class: type[APIHook], schemas: Schemas) -> list[ObserverDoc]:
    """The observers declared on the hook (djira.observers descriptors), once each."""
    found: dict[int, ObserverDoc] = {}
    for klass in reversed(hook_class.__mro__):
        for value in vars(klass).values():
            # An observer is a descriptor with a ``subscribing_rooms`` decorator; its
            # decorators return it, so one observer may sit under several names.
            if isinstance(value, type) or not callable(getattr(value, "subscribing_rooms", None)):
                continue
            if id(value) not in found and getattr(value, "name", None):
                found[id(value)] = observer_doc(value, schemas)
    return list(found.values())


def push_payload(event: str, namespaces: list[str], observer: ObserverDoc) -> Schema:
    """PROTOCOL.md, 'Subscriptions and pushes'; with presence, its join/leave pushes too."""
    change = _push(event, namespaces, observer.types, observer.room, observer.data)
    if not observer.presence:
        return change
    member = {
        "type": "object",
        "description": "The connection's user: both null for an anonymous connection.",
        "properties": {
            "id": {"type": ["string", "integer", "null"]},
            "username": {"type": ["string", "null"]},
        },
        "required": ["id", "username"],
    }
    user = {"type": "object", "properties": {"user": member}, "required": ["user"]}
    # One variant per presence type, so that TypeScript narrows on `type` either way.
    presence = [_push(event, namespaces, [kind], observer.room, user) for kind in ("join", "leave")]
    return {"oneOf": [change, *presence]}


def _push(
    event: str, namespaces: list[str], types: list[str], room: Schema, data: Schema
) -> Schema:
    return {
        "type": "object",
        "properties": {
            "status": {"const": 200},
            "event": {"const": event},
            "namespace": {"type": "string", "enum": namespaces},
            "action": {"const": "SUBSCRIPTION"},
            "type": {"type": "string", "enum": types},
            "room": room,
            "data": data,
            # The push's position in its room's stream (observers.md, catching up).
            "epoch": {"type": "string"},
            "offset": {"type": "integer", "minimum": 1},
        },
        "required": ["status", "event", "namespace", "action", "type", "room", "data"],
    }
