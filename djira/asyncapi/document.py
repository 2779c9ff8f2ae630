"""The AsyncAPI document: servers, one channel per hook, operations, components.

    from djira.asyncapi import build_document
    document = build_document(consumer.hooks, url="wss://example.com")

One channel per hook (its address is the hook name, the Socket.IO event); one ``receive``
operation per route and verb, with the request and the reply (success and error envelopes)
as messages; one ``send`` operation per observer (its pushes). Payloads follow PROTOCOL.md;
``data`` comes from the serializers (``djira.asyncapi.schemas``). The document describes
the server: it *receives* requests and *sends* replies and pushes.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from urllib.parse import urlsplit

from djira import __version__
from djira.asyncapi.catalog import HookEntry, describe_hooks
from djira.asyncapi.schemas import Schema
from djira.asyncapi.security import security_schemes
from djira.base import APIHook
from djira.settings import jira_settings

ASYNCAPI_VERSION = "3.0.0"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def key(text: str) -> str:
    """A component key AsyncAPI accepts (``^[A-Za-z0-9._-]+$``)."""
    return _UNSAFE.sub("_", text).strip("_") or "_"


def ref(*parts: str) -> dict[str, str]:
    """A JSON reference to ``#/parts/...`` (JSON Pointer escaping included)."""
    escaped = (p.replace("~", "~0").replace("/", "~1") for p in parts)
    return {"$ref": "#/" + "/".join(escaped)}


def unique(text: str, taken: Container[str]) -> str:
    """``key(text)``, suffixed with ``_2``, ``_3``... while ``taken`` has it."""
    name, n = key(text), 1
    while name in taken:
        n += 1
        name = f"{key(text)}_{n}"
    return name


def server_object(url: str) -> Schema:
    """The Socket.IO endpoint: ``ws://host:port`` (or ``wss``) and ``SOCKETIO_PATH``."""
    parts = urlsplit(url if "://" in url else f"ws://{url}")
    protocol = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme or "ws")
    path = "/" + str(jira_settings.SOCKETIO_PATH).strip("/") + "/"
    return {
        "host": parts.netloc or "localhost:8000",
        "protocol": protocol,
        "pathname": path,
        "title": "djira",
        "summary": "Socket.IO (protocol v5, Engine.IO v4) on the default namespace '/'.",
        "description": (
            "Connect with any Socket.IO client; send credentials in the handshake (see the "
            "security schemes). A refused connection gets Socket.IO's `connect_error` with "
            "data `{message, status}` (schema `ConnectionRefused`). Every request should ask "
            "for an acknowledgement: the reply is its argument; without one the reply is "
            "emitted on the hook's event to the requesting socket only."
        ),
    }


class _Document:
    """Channels and operations of a catalog's hooks."""

    def __init__(self) -> None:
        self.channels: dict[str, Schema] = {}
        self.operations: dict[str, Schema] = {}

    def add_hook(self, hook: HookEntry) -> None:
        name, hook_class = hook.name, hook.hook_class
        channel = unique(name, self.channels)
        messages: dict[str, Schema] = {"error": ref("components", "messages", "ErrorReply")}
        doc = (hook_class.__doc__ or "").strip()
        self.channels[channel] = {
            "address": name,
            "title": name,
            "summary": f"Hook {hook_class.__module__}.{hook_class.__qualname__}",
            **({"description": doc} if doc else {}),
            "messages": messages,
        }
        for entry in hook.routes:
            route = entry.route
            request = unique(f"{route.key}.request", messages)
            reply = unique(f"{route.key}.reply", {*messages, request})
            messages[request] = {
                "name": request,
                "title": f"{name} {route.label} request",
                "payload": entry.request,
            }
            messages[reply] = {
                "name": reply,
                "title": f"{name} {route.label} reply",
                "payload": entry.reply,
            }
            operation: Schema = {
                "action": "receive",
                "channel": ref("channels", channel),
                "title": f"{name}: {route.label}",
                "summary": route.summary,
                "messages": [ref("channels", channel, "messages", request)],
                "reply": {
                    "channel": ref("channels", channel),
                    "messages": [
                        ref("channels", channel, "messages", reply),
                        ref("channels", channel, "messages", "error"),
                    ],
                },
                "x-djira-permissions": route.permissions,
            }
            if route.description:
                operation["description"] = route.description
            self.operations[unique(f"{name}.{route.key}", self.operations)] = operation
        self.add_pushes(hook, channel, messages)

    def add_pushes(self, hook: HookEntry, channel: str, messages: dict[str, Schema]) -> None:
        for push in hook.pushes:
            observer = push.observer
            message = unique(f"{observer.name}.push", messages)
            messages[message] = {
                "name": message,
                "title": f"{hook.name} push from {observer.name}",
                "summary": observer.summary,
                "description": "The observer's body may send other data, or nothing.",
                "payload": push.payload,
            }
            self.operations[unique(f"{hook.name}.{observer.name}.push", self.operations)] = {
                "action": "send",
                "channel": ref("channels", channel),
                "title": f"{hook.name}: pushes from {observer.name}",
                "summary": observer.summary,
                "description": (
                    "Sent after commit to the sockets subscribed through a route accepting "
                    f"SUBSCRIPTION ({', '.join(push.namespaces)}), one push per room a change "
                    "goes to."
                ),
                "messages": [ref("channels", channel, "messages", message)],
            }


def build_document(
    hooks: Mapping[str, type[APIHook]],
    *,
    url: str = "ws://localhost:8000",
    title: str = "djira realtime API",
    version: str = "1.0.0",
    description: str | None = None,
) -> Schema:
    """The AsyncAPI 3.0.0 document (a JSON-able dict) of ``hooks`` (name -> hook class).

    :param url: where clients connect (``ws://`` or ``wss://`` and the host); the path is
        ``SOCKETIO_PATH``.
    :param title: ``info.title``; :param version: ``info.version`` (your API's version).
    """
    catalog = describe_hooks(hooks)
    document = _Document()
    for hook in catalog.hooks:
        document.add_hook(hook)
    schemes = security_schemes()
    server = server_object(url)
    if schemes:
        server["security"] = [ref("components", "securitySchemes", k) for k in schemes]
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": description
            or (
                "Requests, replies and pushes of a djira server (wire contract v1): emit a "
                "request on a hook's event, receive its reply as the acknowledgement, and "
                "pushes on the same event after subscribing."
            ),
            "x-djira-version": __version__,
        },
        "defaultContentType": "application/json",
        "servers": {"djira": server},
        "channels": document.channels,
        "operations": document.operations,
        "components": {
            "schemas": catalog.schemas.schemas,
            "messages": {
                "ErrorReply": {
                    "name": "ErrorReply",
                    "title": "Error reply",
                    "summary": "A request that failed: the status and DRF's error detail.",
                    "payload": ref("components", "schemas", "ErrorReply"),
                }
            },
            "securitySchemes": schemes,
        },
    }
