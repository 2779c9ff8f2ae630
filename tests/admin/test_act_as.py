"""Acting as a user from the inspector, against real servers (tests/admin/actas_settings.py).

A superuser's session socket with ``{"actAs": pk}`` runs as that user: the user's own
permissions and throttles decide, every request lands in the admin's LogEntry, and nobody
but a superuser gets such a socket, whatever the handshake says.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.core import checks
from django.test import Client

from djira.admin.actas import ACT_AS_FLAG
from djira.testing import ConnectionRefused
from tests.admin.conftest import make_user

pytestmark = pytest.mark.usefixtures("db_")

ACT_AS = "tests.admin.actas_settings"


@pytest.fixture(scope="module")
def act_as_server(live_server_factory):
    return live_server_factory(DJANGO_SETTINGS_MODULE=ACT_AS, DJIRA_TEST_ACT_AS="1")


@pytest.fixture(scope="module")
def act_as_off_server(live_server_factory):
    return live_server_factory(DJANGO_SETTINGS_MODULE=ACT_AS, DJIRA_TEST_ACT_AS="0")


@pytest.fixture
def boss(db_, django_user_model):
    return make_user(django_user_model, "boss", superuser=True)


@pytest.fixture
def staff_operator(db_, django_user_model):
    # Staff with every console permission, yet no superuser.
    return make_user(
        django_user_model,
        "operator",
        perms=["view_dashboard", "use_inspector", "disconnect_client"],
    )


def cookie_of(user) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={value}"}


async def session_headers(user) -> dict[str, str]:
    return await sync_to_async(cookie_of)(user)


async def log_entries(actor) -> list[LogEntry]:
    query = LogEntry.objects.filter(user_id=actor.pk).order_by("pk")
    return await sync_to_async(list)(query)


async def eventually_logged(actor, count: int, within: float = 15.0) -> list[LogEntry]:
    """The actor's LogEntry rows once there are ``count`` (written off the server's loop)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        entries = await log_entries(actor)
        if len(entries) >= count or asyncio.get_running_loop().time() > deadline:
            return entries
        await asyncio.sleep(0.05)


async def test_a_superuser_acts_with_the_users_permissions(act_as_server, connect, boss, user):
    headers = await session_headers(boss)
    # python-engineio takes the Cookie header out of the dict it is given: a copy each time.
    myself = await connect(act_as_server.url, headers=dict(headers))
    assert (await myself.request("books", namespace="admin_only"))["status"] == 200
    acting = await connect(act_as_server.url, headers=dict(headers), auth={"actAs": user.pk})
    # What the user may do passes; what only staff may do is refused, as for the user.
    assert (await acting.request("books", request_id="a-list"))["status"] == 200
    refused = await acting.request("books", namespace="admin_only", request_id="a-admin")
    assert refused["status"] == 403
    entries = await eventually_logged(boss, 3)
    # Their own flag and wording: not a change of the user (nor of anything).
    assert [e.action_flag for e in entries] == [ACT_AS_FLAG] * 3
    assert {e.object_id for e in entries} == {str(user.pk)}
    assert sorted(e.object_repr for e in entries) == [
        f"Inspector connected as {user.username}",
        f"Inspector request as {user.username}: books GET -> 200",
        f"Inspector request as {user.username}: books admin_only GET -> 403",
    ]
    # Written on worker threads, so in any order; the superuser's own socket wrote nothing.
    prefix = f"Acted as {user.username} (pk {user.pk}): "
    assert sorted(e.change_message.removeprefix(prefix) for e in entries) == [
        "books GET -> 200",
        "books admin_only GET -> 403",
        f"connected (session {acting.sid})",
    ]


async def test_the_users_throttles_apply(act_as_server, connect, boss, user, token):
    acting = await connect(
        act_as_server.url, headers=await session_headers(boss), auth={"actAs": user.pk}
    )
    statuses = [(await acting.request("books", namespace="throttled"))["status"] for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert (await acting.request("books", namespace="throttled"))["status"] == 429
    # Counted against the user: their own socket is throttled too.
    own = await connect(act_as_server.url, token=token)
    assert (await own.request("books", namespace="throttled"))["status"] == 429


async def test_refused_when_the_setting_is_off(act_as_off_server, connect, boss, user):
    with pytest.raises(ConnectionRefused) as refused:
        await connect(
            act_as_off_server.url, headers=await session_headers(boss), auth={"actAs": user.pk}
        )
    assert refused.value.status == 403
    assert "INSPECTOR_ACT_AS" in refused.value.data["message"]
    assert await log_entries(boss) == []


async def test_refused_for_staff_who_are_not_superusers(
    act_as_server, connect, staff_operator, user
):
    with pytest.raises(ConnectionRefused) as refused:
        await connect(
            act_as_server.url,
            headers=await session_headers(staff_operator),
            auth={"actAs": user.pk},
        )
    assert refused.value.status == 403
    assert refused.value.data["message"] == "Only a superuser may act as another user."


async def test_a_forged_handshake_gets_nothing(act_as_server, connect, user, token, admin_user):
    # A token (even a valid one) or no credentials at all: acting needs a superuser session.
    for kwargs in (
        {"auth": {"actAs": admin_user.pk, "token": token}},
        {"auth": {"actAs": admin_user.pk}},
    ):
        with pytest.raises(ConnectionRefused) as refused:
            await connect(act_as_server.url, **kwargs)
        assert refused.value.status == 403
    # Without actAs the same server authenticates as usual.
    own = await connect(act_as_server.url, token=token)
    assert (await own.request("books", namespace="admin_only"))["status"] == 403


async def test_acting_as_nobody_is_refused(act_as_server, connect, boss):
    headers = await session_headers(boss)
    for target in (987654, True, {"pk": 1}):
        with pytest.raises(ConnectionRefused) as refused:
            await connect(act_as_server.url, headers=dict(headers), auth={"actAs": target})
        assert refused.value.status == 401


def test_the_setting_without_the_class_is_reported(settings):
    settings.DJIRA_SETTINGS = {"INSPECTOR_ACT_AS": True}
    found = [m.id for m in checks.run_checks(tags=["djira"])]
    assert "djira.W102" in found
    settings.DJIRA_SETTINGS = {
        "INSPECTOR_ACT_AS": True,
        "AUTHENTICATION_CLASSES": ["djira.admin.actas.ActAsAuthentication"],
    }
    assert "djira.W102" not in [m.id for m in checks.run_checks(tags=["djira"])]
