"""Introspection of the registered hooks: what the hooks page lists and the inspector offers."""

from __future__ import annotations

import logging
from typing import Any

from djira.base import APIHook
from djira.settings import jira_settings

logger = logging.getLogger("djira")

# Serializer field class -> the inspector's form input type.
INPUT_TYPES = {
    "BooleanField": "checkbox",
    "NullBooleanField": "checkbox",
    "IntegerField": "number",
    "FloatField": "number",
    "DecimalField": "number",
    "EmailField": "email",
    "URLField": "url",
    "DateField": "date",
    "DateTimeField": "datetime-local",
    "CharField": "text",
    "SlugField": "text",
    "UUIDField": "text",
    "PrimaryKeyRelatedField": "text",
    "ChoiceField": "select",
}


def class_path(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def class_name(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return cls.__name__


def summary(obj: Any) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def names(classes: Any) -> list[str]:
    return [class_name(c) for c in classes or ()]


def describe_serializer(
    hook_class: type[APIHook], overrides: dict[str, Any]
) -> dict[str, Any] | None:
    """The hook's serializer fields (a route's ``serializer_class=`` wins), or None."""
    serializer_class = overrides.get("serializer_class") or getattr(
        hook_class, "serializer_class", None
    )
    if serializer_class is None:
        declared = getattr(hook_class, "serializer", None)
        serializer_class = (
            declared if isinstance(declared, type) or declared is None else type(declared)
        )
    if serializer_class is None:
        return None
    try:
        fields = serializer_class().fields
    except Exception as exc:
        # A serializer that needs a request to build its fields: say so, do not fail the page.
        logger.info("djira admin: cannot list fields of %s: %s", class_path(serializer_class), exc)
        return {"class": class_path(serializer_class), "fields": [], "error": str(exc)}
    out = []
    for name, field in fields.items():
        kind = type(field).__name__
        if kind == "HiddenField":
            continue
        choices = getattr(field, "choices", None)
        out.append(
            {
                "name": name,
                "type": kind,
                "input": INPUT_TYPES.get(kind, "json"),
                "required": bool(field.required),
                "read_only": bool(field.read_only),
                "write_only": bool(field.write_only),
                "allow_null": bool(getattr(field, "allow_null", False)),
                "help_text": str(field.help_text or ""),
                "choices": [[str(k), str(v)] for k, v in list(choices.items())[:100]]
                if choices
                else [],
            }
        )
    return {"class": class_path(serializer_class), "fields": out, "error": None}


def observer_rooms(observer: Any) -> str:
    """How an observer names its rooms: a custom ``rooms`` hook, or the model defaults."""
    custom = getattr(observer, "_rooms", None)
    if custom is not None:
        return f"{getattr(custom, '__name__', 'rooms')}(instance)"
    model_name = getattr(observer, "model_name", None)
    if model_name:
        return f"{model_name}, {model_name}__<pk>"
    return str(getattr(observer, "name", ""))


def describe_observers(hook_class: type[APIHook]) -> list[dict[str, Any]]:
    """Observers declared on the hook (djira.observers descriptors), with their rooms."""
    found: list[dict[str, Any]] = []
    for klass in hook_class.__mro__:
        for attr, value in vars(klass).items():
            # Observers are descriptors with a ``subscribing_rooms`` decorator (djira.observers).
            if isinstance(value, type) or not callable(getattr(value, "subscribing_rooms", None)):
                continue
            if any(o["name"] == attr for o in found):
                continue
            # ``@obs.rooms`` and friends return the observer: skip the aliases they bind.
            if getattr(value, "name", attr) != attr:
                continue
            model = getattr(value, "model", None)
            subscribing = getattr(value, "_subscribing_rooms", None)
            found.append(
                {
                    "name": attr,
                    "class": class_name(value),
                    "model": model._meta.label
                    if model is not None and hasattr(model, "_meta")
                    else "",
                    "rooms": observer_rooms(value),
                    "subscribing": f"{subscribing.__name__}(scope)" if subscribing else "default",
                }
            )
    return found


def describe_route(
    hook_class: type[APIHook],
    name: str | None,
    actions: list[str],
    kwargs: dict[str, Any],
    detail: bool,
) -> dict[str, Any]:
    permissions = kwargs.get("permission_classes", hook_class.permission_classes)
    return {
        "name": name,
        "label": name or ("(detail)" if detail else "(list)"),
        "actions": list(actions),
        "detail": detail,
        "permissions": names(
            permissions if permissions is not None else jira_settings.PERMISSION_CLASSES
        ),
        "serializer": describe_serializer(hook_class, kwargs),
    }


def describe_hook(name: str, hook_class: type[APIHook]) -> dict[str, Any]:
    """Everything the hooks page shows about one hook, JSON-safe."""
    routes = []
    for detail in (False, True):
        actions = hook_class.get_crud_actions(detail)
        if actions:
            routes.append(describe_route(hook_class, None, actions, {}, detail))
    for route in hook_class.get_routes().values():
        routes.append(
            describe_route(hook_class, route.name, list(route.actions), route.kwargs, False)
        )
    pagination = getattr(hook_class, "pagination_class", None)
    if pagination == "default":
        pagination = jira_settings.DEFAULT_PAGINATION_CLASS
    backends = getattr(hook_class, "filter_backends", None)
    if backends is None and hasattr(hook_class, "get_filter_backends"):
        backends = jira_settings.FILTER_BACKENDS
    filterset = getattr(hook_class, "filterset_fields", None)
    throttles = hook_class.throttle_classes
    return {
        "name": name,
        "class": class_path(hook_class),
        "doc": summary(hook_class),
        "routes": routes,
        "permissions": names(
            hook_class.permission_classes
            if hook_class.permission_classes is not None
            else jira_settings.PERMISSION_CLASSES
        ),
        "throttles": names(throttles if throttles is not None else jira_settings.THROTTLE_CLASSES),
        "filter_backends": names(backends),
        "filter_fields": list(filterset.keys() if isinstance(filterset, dict) else filterset or []),
        "search_fields": list(getattr(hook_class, "search_fields", None) or []),
        "ordering_fields": list(getattr(hook_class, "ordering_fields", None) or []),
        "lookup_field": getattr(hook_class, "lookup_field", None),
        "pagination": class_name(pagination) if pagination else None,
        "page_size": jira_settings.PAGE_SIZE if pagination else None,
        "observers": describe_observers(hook_class),
    }


def get_catalog(hooks: dict[str, type[APIHook]]) -> list[dict[str, Any]]:
    """All hooks, by name."""
    return [describe_hook(name, hooks[name]) for name in sorted(hooks)]
