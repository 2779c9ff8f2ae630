"""Errors a hook may raise. DRF's exceptions work unchanged; these add the socket-only cases."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.exceptions import (
    APIException,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    ParseError,
    PermissionDenied,
    Throttled,
    ValidationError,
)

__all__ = [
    "APIException",
    "MethodNotAllowed",
    "NotAuthenticated",
    "NotFound",
    "ParseError",
    "PayloadTooLarge",
    "PermissionDenied",
    "Throttled",
    "TooManyRequestsInFlight",
    "ValidationError",
    "UnknownHook",
    "UnknownNamespace",
    "get_error_data",
]


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("Payload too large.")
    default_code = "payload_too_large"


class TooManyRequestsInFlight(APIException):
    """429: the connection already waits for ``MAX_REQUESTS_IN_FLIGHT`` replies."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_requests_in_flight"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Too many requests in flight on this connection (at most {limit}): "
            "wait for replies before sending more."
        )


class TooManySubscriptions(APIException):
    """429: the connection already holds ``MAX_SUBSCRIPTIONS`` subscriptions."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_subscriptions"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Too many subscriptions on this connection (at most {limit}): "
            "unsubscribe from some before subscribing to more."
        )


class UnknownHook(NotFound):
    default_code = "unknown_hook"


class UnknownNamespace(NotFound):
    default_code = "unknown_namespace"


class VerbNotAllowed(MethodNotAllowed):
    """405 that lists the verbs the route accepts, as ``data.allowed``."""

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(method)
        self.allowed = allowed


def as_api_exception(exc: Exception) -> APIException | None:
    """Map Django's own exceptions to DRF's, as DRF's exception handler does."""
    if isinstance(exc, APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return None


def get_error_data(exc: APIException) -> Any:
    """The reply ``data`` for an API exception: DRF's detail, field errors kept as they are."""
    if isinstance(exc.detail, list | dict):
        data: Any = exc.detail
    else:
        data = {"detail": exc.detail}
    if isinstance(exc, VerbNotAllowed):
        data["allowed"] = exc.allowed
    wait = getattr(exc, "wait", None)
    if isinstance(exc, Throttled) and wait is not None:
        data["wait"] = wait
    return data
