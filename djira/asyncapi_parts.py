"""The pieces of the AsyncAPI document: routes, payload schemas, observers, security.

Read only through public attributes of hooks, routes and observers (``get_routes()``,
``get_crud_actions()``, an observer's ``model``/``serializer_class``/``type``), so that it
keeps describing hooks whatever their internals become.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from djira import authentication
from djira.base import CRUD_ROUTES, APIHook
from djira.serializer_schema import Shape, schema_for
from djira.settings import jira_settings

Schema = dict[str, Any]

ID = {"type": ["string", "integer"]}
ANY: Schema = {"description": "Any JSON value."}
SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}
QUERY_VALUE = {"anyOf": [SCALAR, {"type": "array", "items": SCALAR}]}
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

    def _base(self, serializer_class: Any) -> str:
        if serializer_class not in self._bases:
            name = serializer_class.__name__.removesuffix("Serializer") or "Serializer"
            taken = set(self._bases.values())
            base, n = name, 1
            while base in taken:  # two serializers of one name in different modules
                n += 1
                base = f"{name}{n}"
            self._bases[serializer_class] = base
        return self._bases[serializer_class]

    def serializer(self, serializer_class: Any, kind: Shape) -> Schema:
        """A reference to the ``kind`` shape of ``serializer_class``, added on first use."""
        name = self._base(serializer_class) + self.SUFFIXES[kind]
        if name not in self.schemas:
            self.schemas[name] = schema_for(serializer_class, kind)
        return {"$ref": f"#/components/schemas/{name}"}


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


# -- routes -------------------------------------------------------------------------------


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


# -- payloads -----------------------------------------------------------------------------


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
    from djira.pagination import LimitOffsetPagination, PagePagination

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


# -- observers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ObserverDoc:
    name: str
    summary: str
    types: list[str]
    room: Schema
    data: Schema


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
    """PROTOCOL.md, 'Subscriptions and pushes'."""
    return {
        "type": "object",
        "properties": {
            "status": {"const": 200},
            "event": {"const": event},
            "namespace": {"type": "string", "enum": namespaces},
            "action": {"const": "SUBSCRIPTION"},
            "type": {"type": "string", "enum": observer.types},
            "room": observer.room,
            "data": observer.data,
        },
        "required": ["status", "event", "namespace", "action", "type", "room", "data"],
    }


# -- security -----------------------------------------------------------------------------


def security_schemes() -> dict[str, Schema]:
    """One scheme per class of ``AUTHENTICATION_CLASSES``, by its name.

    A class may describe itself with ``asyncapi_security_scheme`` (an AsyncAPI Security
    Scheme Object); djira's token and session classes are known.
    """
    schemes: dict[str, Schema] = {}
    for cls in jira_settings.AUTHENTICATION_CLASSES:
        declared = getattr(cls, "asyncapi_security_scheme", None)
        doc = (cls.__doc__ or "").strip().splitlines()
        if isinstance(declared, dict):
            scheme = dict(declared)
        elif issubclass(cls, authentication.TokenAuthentication):
            scheme = {
                "type": "httpApiKey",
                "in": "header",
                "name": "Authorization",
                "description": (
                    'A DRF authtoken key: the handshake\'s `auth` object `{"token": key}`, '
                    "or an `Authorization: Token <key>` handshake header."
                ),
            }
        elif issubclass(cls, authentication.SessionAuthentication):
            scheme = {
                "type": "httpApiKey",
                "in": "cookie",
                "name": settings.SESSION_COOKIE_NAME,
                "description": "The Django session cookie sent with the handshake.",
            }
        else:
            scheme = {
                "type": "httpApiKey",
                "in": "header",
                "name": "Authorization",
                "description": f"{cls.__module__}.{cls.__qualname__}: {doc[0] if doc else ''}",
            }
        schemes[cls.__name__] = scheme
    return schemes
