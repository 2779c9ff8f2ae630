"""djira.testing.InProcessCommunicator: the application driven in the test's own loop."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import override_settings

from djira.asgi import get_asgi_application
from djira.consumer import Consumer
from djira.server import create_server
from djira.testing import ConnectionRefused, InProcessCommunicator
from djira.testing.inprocess import djira_servers
from tests.testapp.hooks import BookAPIHook, PrivateBookAPIHook
from tests.testapp.observed import ObservedBookHook


@pytest.fixture(scope="module")
def application():
    """An application as asgi.py builds it, on its own server (the SOCKET_INSTANCE here).

    Module-scoped: every test runs in a new event loop, as pytest-asyncio gives each test
    its own, which the communicator must cope with.
    """
    sio = create_server()
    with override_settings(DJIRA_SETTINGS={**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio}):
        consumer = Consumer(sio)
        consumer.register("books", BookAPIHook)
        consumer.register("private", PrivateBookAPIHook)
        consumer.register("observed", ObservedBookHook)
        yield get_asgi_application(consumer=consumer, discover=False)


async def test_request_and_reply(application, db_):
    async with InProcessCommunicator(application) as client:
        assert client.sid
        reply = await client.request("books", request_id="r1")
    assert (reply["status"], reply["requestId"]) == (200, "r1")
    assert reply["data"]["results"] == []


async def test_reply_as_an_event_without_ack(application, db_):
    async with InProcessCommunicator(application) as client:
        reply = await client.request("books", namespace="count", ack=False)
    assert reply["data"] == {"count": 0}


async def test_token_authenticates(application, user, token):
    async with InProcessCommunicator(application, token=token) as client:
        reply = await client.request("books", namespace="async_echo")
    assert reply["data"]["user"] == "alice"


async def test_session_cookie_authenticates(application, user):
    from django.test import Client

    web = Client()
    await sync_to_async(web.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={web.cookies[settings.SESSION_COOKIE_NAME].value}"
    async with InProcessCommunicator(application, headers={"Cookie": cookie}) as client:
        reply = await client.request("books", namespace="async_echo")
    assert reply["data"]["user"] == "alice"


async def test_bad_token_is_refused(application, db_):
    with pytest.raises(ConnectionRefused) as refused:
        await InProcessCommunicator(application, token="nope").connect()
    assert refused.value.status == 401


async def test_permission_refusal_reply(application, db_):
    async with InProcessCommunicator(application) as client:
        reply = await client.request("private")
    assert reply["status"] == 401


# Twice: the second run is in a new event loop, where pushes from worker threads must land.
@pytest.mark.parametrize("title", ["first loop", "second loop"])
async def test_push_after_a_change(application, user, token, title):
    async with InProcessCommunicator(application, token=token) as client:
        subscribed = await client.request("observed", namespace="subscribe", action="SUBSCRIPTION")
        assert subscribed["status"] == 200
        created = await client.request("observed", action="POST", data={"title": title})
        assert created["status"] == 201
        push = await client.receive("observed", match=lambda p: p.get("type") == "create")
    assert push["data"]["title"] == title


async def test_disconnect_is_seen_by_the_server(application, db_):
    client = await InProcessCommunicator(application).connect()
    # Wherever the server sits among the application's wrappers (health, frame guard...).
    (sio,) = [s for s in djira_servers(application) if s.manager.is_connected(client.sid, "/")]
    await client.disconnect()
    assert not client.connected
    assert not sio.manager.is_connected(client.sid, "/")
