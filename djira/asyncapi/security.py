"""Security schemes: one per class of ``AUTHENTICATION_CLASSES``."""

from __future__ import annotations

from django.conf import settings

from djira import authentication
from djira.asyncapi.schemas import Schema
from djira.settings import jira_settings


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
