"""Generic signal observers, m2m_changed, and ``dispatch.receiver`` handlers."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.observers.conftest import on, scenario, subscribe
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")


async def test_signal_observer_pushes_its_serializer_data_to_its_room(connect):
    book = await Book.objects.acreate(title="flagged")
    client = await connect()
    assert await subscribe(client, "subscribe_flags") == ["flags"]
    await scenario(client, "flag", id=book.pk, reason="spam")
    push = await client.receive("observed", match=on("subscribe_flags"))
    assert (push["type"], push["room"], push["data"]) == (
        "update",
        "flags",
        {"id": book.pk, "reason": "spam"},
    )


async def test_signal_observer_body_returning_false_sends_nothing(connect):
    book = await Book.objects.acreate(title="flagged")
    client = await connect()
    await subscribe(client, "subscribe_flags")
    await scenario(client, "flag", id=book.pk, reason="silent")
    assert await client.receive_nothing(0.3, "observed")


async def test_m2m_change_is_pushed_when_opted_in(connect):
    user = await get_user_model().objects.acreate(username="grouped")
    client = await connect()
    assert await subscribe(client, hook="observed_users") == ["user"]
    await scenario(client, "group", user=user.pk, group="editors")
    push = await client.receive("observed_users", match=lambda p: p.get("type") == "update")
    assert push["data"] == {"id": user.pk, "groups": ["editors"]}


async def test_receiver_emit_from_sync_signal_code_is_delivered(connect):
    client = await connect()
    result = await scenario(client, "create", title="broadcast 1")
    push = await client.receive("broadcast")
    assert push["status"] == 201 and push["data"]["id"] == result["id"]


async def test_receiver_emit_is_dropped_on_rollback(connect):
    client = await connect()
    await scenario(client, "rollback", title="broadcast rolled back")
    assert await client.receive_nothing(0.4, "broadcast")


async def test_failing_receiver_is_logged_and_the_save_stands(connect):
    client = await connect()
    result = await scenario(client, "create", title="receiver-boom")
    assert await Book.objects.filter(pk=result["id"]).aexists()
