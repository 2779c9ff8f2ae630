"""A live part polled after the session ended sends the whole page, not the part, to the login."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

pytestmark = pytest.mark.usefixtures("consumer")


def next_of(response) -> str:
    location = urlsplit(response["HX-Redirect"])
    assert location.path == reverse("admin:login")
    return parse_qs(location.query)["next"][0]


def poll(client, current_url: str):
    return client.get(
        reverse("admin:djira_room_rows"),
        {"q": "room"},
        headers={"HX-Request": "true", "HX-Current-URL": current_url},
    )


def test_next_is_the_page_with_its_filters(client, db):
    response = poll(client, "http://testserver/admin/djira/room/?q=owner")
    assert response.status_code == 200
    assert next_of(response) == "/admin/djira/room/?q=owner"


def test_without_django_htmx_middleware_the_page_still_goes_to_the_login(client, db, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "htmx" not in m.lower()]
    response = poll(client, "http://testserver/admin/djira/room/")
    assert next_of(response) == "/admin/djira/room/"
    assert b"djira-rooms" not in response.content


def test_a_page_on_another_host_is_not_a_next(client, db):
    response = poll(client, "https://evil.example/admin/djira/room/")
    assert next_of(response) == "/admin/djira/room/rows/?q=room"


def test_a_logged_in_staff_users_poll_is_served(client, superuser):
    client.force_login(superuser)
    response = poll(client, "http://testserver/admin/djira/room/")
    assert response.status_code == 200
    assert "HX-Redirect" not in response
    assert b"djira-rooms" in response.content
