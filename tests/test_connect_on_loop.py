"""Which handshakes are authenticated on the loop (no thread hop): only those that djira's
own authentication classes, exactly, can find nothing in (no session cookie, no token),
under permissions whose ``can_connect`` reads only the user. Anything else may query the
database, so it keeps the hop. What each handshake ends as, over a real server, is in
tests/test_authentication.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from djira import authentication
from djira.authentication import SessionAuthentication, TokenAuthentication, finds_no_credential
from djira.consumer import Consumer
from djira.scope import Scope
from djira.server import create_server

DEFAULTS = [SessionAuthentication, TokenAuthentication]


def handshake(auth: Any = None, **environ: str) -> Scope:
    return Scope(sid="s", event="connect", action="CONNECT", auth=auth, environ=environ)


class MySession(SessionAuthentication):
    """A subclass: it could query without a cookie, so it runs in a worker thread."""


def test_a_handshake_without_credentials_reads_nothing_else():
    assert finds_no_credential(DEFAULTS, handshake())
    assert finds_no_credential(DEFAULTS, handshake(HTTP_COOKIE="theme=dark"))
    assert finds_no_credential(DEFAULTS, handshake(auth={}))
    assert finds_no_credential([], handshake())


@pytest.mark.parametrize(
    "scope",
    [
        handshake(HTTP_COOKIE=f"theme=dark; {settings.SESSION_COOKIE_NAME}=abc"),
        handshake(auth={"token": "abc"}),
        handshake(auth={"token": ""}),  # refused (401) in the thread, as before
        handshake(HTTP_AUTHORIZATION="Token abc"),
    ],
    ids=["session-cookie", "token", "empty-token", "authorization-header"],
)
def test_a_credential_keeps_the_thread_hop(scope):
    assert not finds_no_credential(DEFAULTS, scope)


def test_classes_other_than_djiras_own_keep_the_thread_hop():
    assert not finds_no_credential([MySession], handshake())
    assert not finds_no_credential([*DEFAULTS, authentication.BaseAuthentication], handshake())


def test_the_consumer_also_needs_loop_safe_permissions_and_its_own_authenticate():
    consumer = Consumer(create_server())
    assert consumer._connects_on_loop(handshake())
    assert not consumer._connects_on_loop(handshake(HTTP_AUTHORIZATION="Token abc"))
    querying = {"PERMISSION_CLASSES": ["rest_framework.permissions.DjangoModelPermissions"]}
    with override_settings(DJIRA_SETTINGS=querying):
        assert not consumer._connects_on_loop(handshake())
    strict = {"PERMISSION_CLASSES": ["djira.permissions.IsAuthenticated"]}
    with override_settings(DJIRA_SETTINGS=strict):
        assert consumer._connects_on_loop(handshake())  # refused on the loop: 401

    class Mine(Consumer):
        def authenticate(self, scope: Scope) -> None:
            super().authenticate(scope)

    assert not Mine(create_server())._connects_on_loop(handshake())
