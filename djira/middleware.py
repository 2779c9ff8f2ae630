"""Middleware over scopes, in Django's ``get_response`` style.

    class LocaleMiddleware:
        def __init__(self, get_response):
            self.get_response = get_response

        async def __call__(self, scope):
            scope.language = scope.headers.get("Accept-Language", "en")
            response = await self.get_response(scope)      # a djira.response.Response
            response.data = {"lang": scope.language, **response.data}
            return response

Middleware runs on the event loop. A sync ``__call__`` may change the scope and
``return self.get_response(scope)`` (djira awaits what it returns), but must not block or use
the ORM; to read or change the reply, write ``async def __call__``. To reject a request,
raise a DRF exception (``PermissionDenied``...) or return a ``Response`` without calling
``get_response``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from djira.response import Response

Handler = Callable[[Any], Awaitable[Response]]


def _as_handler(middleware: Any) -> Handler:
    if inspect.iscoroutinefunction(middleware) or inspect.iscoroutinefunction(
        getattr(middleware, "__call__", None)  # noqa: B004 - instances with async __call__
    ):
        return middleware

    async def handler(scope: Any) -> Response:
        result = middleware(scope)
        if inspect.isawaitable(result):
            result = await result
        return result if isinstance(result, Response) else Response(result)

    return handler


def _traced(name: str, handler: Handler) -> Handler:
    """``handler``, recording entering and leaving it in the request's trace (if any)."""

    async def traced(scope: Any) -> Response:
        trace = scope.trace
        if trace is None:
            return await handler(scope)
        trace.add("middleware", middleware=name, phase="enter")
        response = await handler(scope)
        trace.add("middleware", middleware=name, phase="leave", status=response.status)
        return response

    return traced


def build_chain(classes: Sequence[type], inner: Handler) -> Handler:
    """Wrap ``inner`` in ``classes``, the first one outermost (as Django's MIDDLEWARE)."""
    handler = inner
    for cls in reversed(classes):
        handler = _traced(cls.__name__, _as_handler(cls(handler)))
    return handler
