"""Routes of a hook (CRUD routes and ``@action`` namespaces, verb by verb) and their payloads.

Read only through public attributes (``get_routes()``, ``CRUD_ROUTES``, ``permission_classes``,
``serializer_class``), so that it keeps describing hooks whatever their internals become.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from djira.asyncapi.schemas import ANY, ID_REF, QUERY_VALUE_REF, Schema, Schemas, Shape
from djira.base import CRUD_ROUTES, APIHook
from djira.pagination import LimitOffsetPagination, PagePagination
from djira.settings import jira_settings

CRUD_SUMMARIES = {
    "list": "List, filtered and paginated.",
    "create": "Create an object.",
    "retrieve": "One object, by pk.",
    "update": "Replace an object's fields, by pk.",
    "partial_update": "Change some of an object's fields, by pk.",
    "destroy": "Delete an object, by pk.",
}
# The request ``data`` shape of each CRUD route (None: the route reads no data).
CRUD_INPUT: dict[str, Shape | None] = {
    "create": "input",
    "update": "input",
    "partial_update": "partial",
}


@dataclass(frozen=True)
class RouteDoc:
    """One route and verb of a hook, as the document shows it."""

    key: str  # unique within the hook: "list", "publish.post"
    label: str
    verb: str
    namespace: str | None
    detail: bool  # a CRUD route that needs ``pk``
    method: str | None  # the CRUD mixin method, for CRUD routes
    summary: str
    description: str
    permissions: list[str]
    kwargs: dict[str, Any] = field(default_factory=dict)


def _doc(func: Any) -> tuple[str, str]:
    text = (getattr(func, "__doc__", None) or "").strip()
    return (text.splitlines()[0], text) if text else ("", "")


def _names(classes: Any) -> list[str]:
    return [getattr(c, "__name__", type(c).__name__) for c in classes or ()]


def hook_routes(hook_class: type[APIHook]) -> Iterator[RouteDoc]:
    """The CRUD routes the hook serves, then its ``@action`` namespaces, verb by verb."""
    default_perms = hook_class.permission_classes
    if default_perms is None:
        default_perms = jira_settings.PERMISSION_CLASSES
    for (verb, detail), method in CRUD_ROUTES.items():
        if not hasattr(hook_class, method):
            continue
        summary, description = _doc(getattr(hook_class, method))
        yield RouteDoc(
            key=method,
            label=f"{verb} {'with pk' if detail else 'without pk'} ({method})",
            verb=verb,
            namespace=None,
            detail=detail,
            method=method,
            summary=CRUD_SUMMARIES[method],
            description=description if description != summary else "",
            permissions=_names(default_perms),
        )
    for route in hook_class.get_routes().values():
        summary, description = _doc(getattr(hook_class, route.attr, None))
        perms = route.kwargs.get("permission_classes", default_perms)
        for verb in route.actions:
            yield RouteDoc(
                key=f"{route.name}.{verb.lower()}",
                label=f"{verb} {route.name}",
                verb=verb,
                namespace=route.name,
                detail=False,
                method=None,
                summary=summary or f"The '{route.name}' namespace.",
                description=description,
                permissions=_names(
                    perms if perms is not None else jira_settings.PERMISSION_CLASSES
                ),
                kwargs=dict(route.kwargs),
            )


def _hook_serializer(hook_class: type[APIHook]) -> Any:
    declared = getattr(hook_class, "serializer_class", None) or getattr(
        hook_class, "serializer", None
    )
    return declared if isinstance(declared, type) or declared is None else type(declared)


def route_serializer(hook_class: type[APIHook], route: RouteDoc) -> Any:
    """The serializer of a CRUD route, or the one an ``@action`` names explicitly.

    A namespace's body may read and return anything, so the hook's serializer is assumed
    only where djira's own code uses it; ``@action(serializer_class=...)`` declares one.
    """
    if route.method is not None:
        return _hook_serializer(hook_class)
    return route.kwargs.get("serializer_class")


def _verb(verb: str) -> Schema:
    return {
        "type": "string",
        "enum": [verb, verb.lower()],
        "description": "The verb (case-insensitive).",
    }


def _query(hook_class: type[APIHook], route: RouteDoc) -> Schema:
    """The ``query`` object: filters, search, ordering and paging of a list route."""
    properties: dict[str, Schema] = {}
    if route.method == "list":
        backends = getattr(hook_class, "filter_backends", None)
        if backends is None:
            backends = jira_settings.FILTER_BACKENDS
        filterset = getattr(hook_class, "filterset_fields", None) or ()
        for name in filterset:
            properties[str(name)] = QUERY_VALUE_REF
        for backend in backends or ():
            search = getattr(backend, "search_param", None)
            if search and getattr(hook_class, "search_fields", None):
                fields = ", ".join(hook_class.search_fields)  # type: ignore[attr-defined]
                properties[search] = {"type": "string", "description": f"Search in {fields}."}
            ordering = getattr(backend, "ordering_param", None)
            if ordering and getattr(hook_class, "ordering_fields", None):
                fields = ", ".join(hook_class.ordering_fields)  # type: ignore[attr-defined]
                properties[ordering] = {
                    "type": "string",
                    "description": f"Comma-separated among {fields}; '-' first descends.",
                }
        paginator = _pagination(hook_class)
        for attr in ("page_query_param", "page_size_query_param", "limit_query_param"):
            name = getattr(paginator, attr, None)
            if name:
                properties[name] = {"type": ["integer", "string"]}
        name = getattr(paginator, "offset_query_param", None)
        if name:
            properties[name] = {"type": "integer", "minimum": 0}
    return {
        "type": "object",
        "description": "Only the fields the hook declares are honoured.",
        "properties": properties,
        "additionalProperties": QUERY_VALUE_REF,
    }


def _pagination(hook_class: type[APIHook]) -> Any:
    if not hasattr(hook_class, "paginate_queryset"):
        return None
    cls = getattr(hook_class, "pagination_class", None)
    return jira_settings.DEFAULT_PAGINATION_CLASS if cls == "default" else cls


def request_payload(hook_class: type[APIHook], route: RouteDoc, schemas: Schemas) -> Schema:
    """PROTOCOL.md, 'A request', for one route and verb."""
    properties: dict[str, Schema] = {}
    required = []
    if route.namespace is not None:
        properties["namespace"] = {"type": "string", "const": route.namespace}
        required.append("namespace")
    properties["action"] = _verb(route.verb)
    if route.verb != "GET":
        required.append("action")
    properties["requestId"] = ID_REF
    if route.verb in ("POST", "PUT", "PATCH", "DELETE"):
        properties["idempotencyKey"] = {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "description": "A repeat of the key by the same user gets the first reply "
            "(protocol.md, 'Idempotency keys').",
        }
    if route.detail or route.method is None:  # a namespace's body may call get_object()
        properties["pk"] = ID_REF
    if route.detail:
        required.append("pk")
    serializer = route_serializer(hook_class, route)
    if route.method is not None:
        kind = CRUD_INPUT.get(route.method)
        if kind is not None:  # list, retrieve and destroy read no data
            properties["data"] = schemas.serializer(serializer, kind) if serializer else ANY
    elif serializer is not None and route.verb in ("POST", "PUT", "PATCH"):
        shape: Shape = "partial" if route.verb == "PATCH" else "input"
        properties["data"] = schemas.serializer(serializer, shape)
    else:
        properties["data"] = ANY
    properties["query"] = _query(hook_class, route)
    properties["headers"] = {"type": "object", "description": "Free metadata for middleware."}
    return {"type": "object", "properties": properties, "required": required}


def _paginated(items: Schema, paginator: Any) -> Schema:
    """A list reply: the items, or djira's page object around them."""
    if paginator is None:
        return items
    if not (
        isinstance(paginator, type)
        and issubclass(paginator, PagePagination | LimitOffsetPagination)
    ):
        return ANY  # a paginator of the project's own: its page shape is unknown here
    link = {"type": ["integer", "null"], "description": "A page number or an offset."}
    return {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "next": link,
            "previous": link,
            "results": items,
        },
        "required": ["count", "next", "previous", "results"],
    }


def reply_data(
    hook_class: type[APIHook], route: RouteDoc, schemas: Schemas
) -> tuple[Schema, Schema]:
    """(status schema, data schema) of a successful reply."""
    serializer = route_serializer(hook_class, route)
    output = schemas.serializer(serializer, "output") if serializer is not None else ANY
    if route.method == "list":
        many = {"type": "array", "items": output}
        return {"const": 200}, _paginated(many, _pagination(hook_class))
    if route.method == "create":
        return {"const": 201}, output
    if route.method == "destroy" or route.verb == "UNSUBSCRIPTION":
        return {"const": 204}, {"type": "null"}
    if route.verb == "SUBSCRIPTION":
        rooms = {"type": "array", "items": {"type": "string"}}
        data = {"type": "object", "properties": {"rooms": rooms}, "required": ["rooms"]}
        return {"const": 200}, data
    if route.method is not None:
        return {"const": 200}, output
    return {"type": "integer", "minimum": 200, "maximum": 299}, output


def reply_payload(
    event: str, hook_class: type[APIHook], route: RouteDoc, schemas: Schemas
) -> Schema:
    """PROTOCOL.md, 'The reply', when the request succeeded."""
    status, data = reply_data(hook_class, route, schemas)
    return {
        "type": "object",
        "properties": {
            "status": status,
            "event": {"const": event},
            "namespace": {"const": route.namespace},
            "action": {"type": "string", "const": route.verb},
            "requestId": {"anyOf": [ID_REF, {"type": "null"}]},
            "data": data,
        },
        "required": ["status", "event", "namespace", "action", "requestId", "data"],
    }
