"""Connecting: token and session authentication, refusals, per-connection users."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model

from djira.testing import ConnectionRefused

pytestmark = pytest.mark.usefixtures("db_")


async def test_token_in_auth_identifies_user(connect, token):
    client = await connect(token=token)
    reply = await client.request("books", namespace="async_echo")
    assert reply["data"]["user"] == "alice"


async def test_token_in_authorization_header(connect, token):
    client = await connect(headers={"Authorization": f"Token {token}"})
    reply = await client.request("books", namespace="async_echo")
    assert reply["data"]["user"] == "alice"


async def test_no_credentials_is_anonymous(connect):
    client = await connect()
    assert (await client.request("books", namespace="async_echo"))["data"]["user"] is None


async def test_bad_token_is_refused_with_401_and_no_traceback(connect, server):
    tracebacks = server.read_log().count("Traceback")
    with pytest.raises(ConnectionRefused) as refused:
        await connect(token="not-a-token")
    assert refused.value.status == 401
    assert refused.value.data["message"] == "Invalid token."
    await connect()  # the server is still up, and has written whatever it logs
    assert server.read_log().count("Traceback") == tracebacks


async def test_token_of_wrong_type_is_refused(connect):
    with pytest.raises(ConnectionRefused) as refused:
        await connect(auth={"token": 12})
    assert refused.value.status == 401


async def test_inactive_user_token_is_refused(connect, user, token):
    user.is_active = False
    await sync_to_async(user.save)()
    with pytest.raises(ConnectionRefused) as refused:
        await connect(token=token)
    assert refused.value.status == 401


async def test_session_cookie_identifies_user(connect, user):
    from django.test import Client

    web = Client()
    await sync_to_async(web.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={web.cookies[settings.SESSION_COOKIE_NAME].value}"
    client = await connect(headers={"Cookie": cookie})
    assert (await client.request("books", namespace="async_echo"))["data"]["user"] == "alice"


async def test_unknown_session_cookie_is_anonymous(connect):
    client = await connect(headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}=bogus"})
    assert (await client.request("books", namespace="async_echo"))["data"]["user"] is None


async def test_users_are_kept_per_connection(connect, token, other_user):
    alice = await connect(token=token)
    anonymous = await connect()
    assert (await alice.request("books", namespace="async_echo"))["data"]["user"] == "alice"
    assert (await anonymous.request("books", namespace="async_echo"))["data"]["user"] is None


@pytest.fixture(scope="module")
def strict_server(live_server_factory):
    """A server whose PERMISSION_CLASSES is IsAuthenticated: anonymous connects are refused."""
    return live_server_factory(DJIRA_TEST_STRICT="1")


async def test_can_connect_refuses_anonymous_with_401(connect, strict_server):
    with pytest.raises(ConnectionRefused) as refused:
        await connect(strict_server.url)
    assert refused.value.status == 401


async def test_can_connect_admits_authenticated(connect, strict_server, token):
    client = await connect(strict_server.url, token=token)
    assert (await client.request("books", namespace="count"))["status"] == 200


async def test_client_cannot_replay_connect_event(connect, token):
    client = await connect()
    await client.emit("connect", {"token": token})
    # The reserved event is dropped: the connection stays anonymous and gets no reply.
    assert await client.receive_nothing(0.3)
    assert (await client.request("books", namespace="async_echo"))["data"]["user"] is None


async def test_user_model_is_the_projects(user):
    assert isinstance(user, get_user_model())
