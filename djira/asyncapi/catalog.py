"""What each served hook accepts and returns: the one description both generators read.

    from djira.asyncapi.catalog import describe_hooks
    catalog = describe_hooks(consumer.hooks)

``manage.py djira_asyncapi`` (the AsyncAPI document, ``djira.asyncapi.document``) and
``manage.py djira_typescript`` (TypeScript types and a typed facade, ``djira.typescript``)
are two renderings of this catalog: for every hook, its routes verb by verb with the JSON
Schemas of their request and reply, and the pushes of its observers; serializers are
described once, in ``catalog.schemas`` (``components.schemas`` of the document).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from djira.asyncapi.pushes import ObserverDoc, observers_of, push_payload
from djira.asyncapi.routes import RouteDoc, hook_routes, reply_payload, request_payload
from djira.asyncapi.schemas import Schema, Schemas
from djira.base import APIHook


@dataclass(frozen=True)
class RouteEntry:
    """One route and verb: the request a client sends and the reply it gets on success."""

    route: RouteDoc
    request: Schema
    reply: Schema


@dataclass(frozen=True)
class PushEntry:
    """What one observer pushes to the sockets subscribed through ``namespaces``."""

    observer: ObserverDoc
    namespaces: list[str]
    payload: Schema


@dataclass(frozen=True)
class HookEntry:
    name: str
    hook_class: type[APIHook]
    routes: list[RouteEntry] = field(default_factory=list)
    pushes: list[PushEntry] = field(default_factory=list)


@dataclass
class Catalog:
    """Hooks sorted by name; ``schemas`` holds the serializers and the shared envelopes."""

    hooks: list[HookEntry]
    schemas: Schemas


def describe_hook(name: str, hook_class: type[APIHook], schemas: Schemas) -> HookEntry:
    """Routes (CRUD first, then ``@action`` namespaces) and pushes of one hook."""
    entry = HookEntry(name, hook_class)
    for route in hook_routes(hook_class):
        entry.routes.append(
            RouteEntry(
                route,
                request_payload(hook_class, route, schemas),
                reply_payload(name, hook_class, route, schemas),
            )
        )
    namespaces = [r.name for r in hook_class.get_routes().values() if "SUBSCRIPTION" in r.actions]
    if namespaces:  # without a route that joins rooms, nothing an observer sends arrives
        for observer in observers_of(hook_class, schemas):
            entry.pushes.append(
                PushEntry(observer, namespaces, push_payload(name, namespaces, observer))
            )
    return entry


def describe_hooks(hooks: Mapping[str, type[APIHook]]) -> Catalog:
    """The catalog of ``hooks`` (name -> hook class)."""
    schemas = Schemas()
    return Catalog([describe_hook(name, hooks[name], schemas) for name in sorted(hooks)], schemas)
