"""The console's download of the AsyncAPI document (Hooks page link, staff only)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

pytestmark = pytest.mark.usefixtures("consumer")

URL = "admin:djira_hook_asyncapi"


def test_viewers_download_the_document_of_the_served_hooks(client, viewer):
    client.force_login(viewer)
    response = client.get(reverse(URL), HTTP_HOST="rt.example.com")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="asyncapi.json"'
    assert "no-store" in response["Cache-Control"]  # like every console page
    document = json.loads(response.content)
    assert document["asyncapi"] == "3.0.0"
    assert {"books", "readonly", "tools"} <= {c["address"] for c in document["channels"].values()}
    assert document["servers"]["djira"]["host"] == "rt.example.com"
    assert document["servers"]["djira"]["protocol"] == "ws"


def test_over_https_the_server_is_wss(client, viewer):
    client.force_login(viewer)
    response = client.get(reverse(URL), secure=True)
    assert json.loads(response.content)["servers"]["djira"]["protocol"] == "wss"


def test_the_hooks_page_links_the_download(client, viewer):
    client.force_login(viewer)
    content = client.get(reverse("admin:djira_hook_changelist")).content.decode()
    assert f'href="{reverse(URL)}"' in content


def test_anonymous_users_get_the_login_page(client, db):
    response = client.get(reverse(URL))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_non_staff_get_the_login_page_despite_permissions(client, non_staff_with_perms):
    client.force_login(non_staff_with_perms)
    response = client.get(reverse(URL))
    assert response.status_code == 302


def test_staff_without_the_console_permission_get_403(client, staff_without_perms):
    client.force_login(staff_without_perms)
    assert client.get(reverse(URL)).status_code == 403
