"""Authentication classes, run once per connection (at the Socket.IO handshake).

Each returns ``(user, auth)`` when it recognises credentials, ``None`` when there are none
for it, and raises ``AuthenticationFailed`` when they are present but wrong (the
connection is then refused with status 401).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from http.cookies import SimpleCookie
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed

if TYPE_CHECKING:
    from djira.scope import Scope

UserAuth = tuple[Any, Any]


class BaseAuthentication(ABC):
    """Override ``authenticate(scope)``; it runs in a worker thread, so the ORM is fine."""

    @abstractmethod
    def authenticate(self, scope: Scope) -> UserAuth | None:
        """``(user, auth)``, ``None`` without credentials, or raise ``AuthenticationFailed``."""


class TokenAuthentication(BaseAuthentication):
    """DRF authtoken keys, from ``auth.token`` or an ``Authorization: Token <key>`` header."""

    keyword = "Token"

    def get_key(self, scope: Scope) -> str | None:
        auth = scope.auth
        if isinstance(auth, dict) and auth.get("token") is not None:
            token = auth["token"]
            if not isinstance(token, str) or not token:
                raise AuthenticationFailed("Invalid token.")
            return token
        header = scope.environ.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid token header.")
        return parts[1]

    def authenticate(self, scope: Scope) -> UserAuth | None:
        key = self.get_key(scope)
        if key is None:
            return None
        from rest_framework.authtoken.models import Token

        try:
            token = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist:
            raise AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return token.user, token


class SessionAuthentication(BaseAuthentication):
    """The Django session cookie sent with the handshake (same-origin pages, the admin).

    Cross-site pages cannot ride on it: python-socketio refuses origins not listed in
    ``CORS_ALLOWED_ORIGINS`` (same origin by default), which is the websocket's CSRF guard.
    """

    def authenticate(self, scope: Scope) -> UserAuth | None:
        cookie = SimpleCookie()
        try:
            cookie.load(scope.environ.get("HTTP_COOKIE", ""))
        except Exception:  # a malformed cookie header is no credential at all
            return None
        morsel = cookie.get(settings.SESSION_COOKIE_NAME)
        if morsel is None or not morsel.value:
            return None
        from importlib import import_module

        from django.contrib.auth import get_user

        store = import_module(settings.SESSION_ENGINE).SessionStore(morsel.value)
        user = get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
        if not user.is_authenticated:
            return None
        return user, None


def finds_no_credential(classes: Iterable[Any], scope: Scope) -> bool:
    """Whether authenticating ``scope`` with ``classes`` can only find it anonymous, reading
    nothing but the handshake: the classes are all exactly djira's own (a subclass may
    query), and the handshake carries none of their credentials (no session cookie, no
    token). The connection is then authenticated without a worker-thread hop.
    """
    environ = scope.environ
    for cls in classes:
        if cls is SessionAuthentication:
            if settings.SESSION_COOKIE_NAME in environ.get("HTTP_COOKIE", ""):
                return False
        elif cls is TokenAuthentication:
            if scope.auth or environ.get("HTTP_AUTHORIZATION"):
                return False
        else:
            return False
    return True
