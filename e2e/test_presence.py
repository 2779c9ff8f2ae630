"""The console's Rooms page shows presence (who, how many connections) across processes.

The example under uvicorn in headless Chromium; the second process shares the private Redis.
"""

from __future__ import annotations

from playwright.sync_api import expect

from e2e.conftest import EXAMPLE


def test_rooms_page_shows_who_is_present_on_every_process(
    admin_page, example_env, sio_client, requires_redis
):
    from djira.testing import LiveServer

    page = admin_page
    other = LiveServer("example.asgi:application", env=example_env, cwd=str(EXAMPLE)).start()
    try:
        here = sio_client("demo")
        data = {"title": "Who is here", "body": "A room of its own for this test."}
        created = here.call("articles", {"action": "POST", "data": data})
        assert created["status"] == 201, created
        pk = created["data"]["id"]
        subscription = {"namespace": "subscribe", "action": "SUBSCRIPTION", "pk": pk}
        there = sio_client("demo", url=other.url)
        sam = sio_client("sam", url=other.url)
        for client in (here, there, sam):
            reply = client.call("articles", subscription)
            assert reply["status"] == 200, reply

        page.goto("/admin/djira/room/")
        row = page.locator(f'tr.djira-room[data-room$=":article__{pk}"]')
        presence = row.locator("td.djira-presence")
        # demo on both processes, sam on the other one: one row, everyone in it.
        expect(presence).to_have_attribute("data-connections", "3")
        expect(presence.locator(".djira-presence-user")).to_have_text(["demo ×2", "sam"])
        expect(presence.locator(".djira-presence-count")).to_have_text("3 connections")

        # Leaving (another process) and disconnecting update the column without a reload.
        reply = sam.call("articles", {**subscription, "action": "UNSUBSCRIPTION"})
        assert reply["status"] == 204, reply
        expect(presence.locator(".djira-presence-user")).to_have_text(["demo ×2"])
        there.disconnect()
        expect(presence.locator(".djira-presence-user")).to_have_text(["demo"])
        expect(presence.locator(".djira-presence-count")).to_have_text("1 connection")
    finally:
        other.stop()
