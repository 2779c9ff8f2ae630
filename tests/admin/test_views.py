"""Every console URL: who may see it, what it shows, how it refuses (Django test client)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.usefixtures("consumer")

PAGES = [
    ("admin:djira_hook_changelist", {}),
    ("admin:djira_connection_changelist", {}),
    ("admin:djira_connection_rows", {}),
    ("admin:djira_connection_detail", {"sid": "abc"}),
    ("admin:djira_connection_panel", {"sid": "abc"}),
    ("admin:djira_room_changelist", {}),
    ("admin:djira_room_rows", {}),
    ("admin:djira_traffic_changelist", {}),
    ("admin:djira_traffic_rows", {}),
    ("admin:djira_traffic_stats", {}),
    ("admin:djira_inspector_changelist", {}),
]
VIEWER_PAGES = [p for p in PAGES if "inspector" not in p[0] and "sid" not in p[1]]


def url(name, kwargs=None):
    return reverse(name, kwargs=kwargs or {})


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_anonymous_users_get_the_login_page(client, db, name, kwargs):
    response = client.get(url(name, kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_non_staff_users_get_the_login_page_despite_permissions(
    client, non_staff_with_perms, name, kwargs
):
    client.force_login(non_staff_with_perms)
    response = client.get(url(name, kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_staff_without_permission_get_403(client, staff_without_perms, name, kwargs):
    client.force_login(staff_without_perms)
    assert client.get(url(name, kwargs)).status_code == 403


@pytest.mark.parametrize(("name", "kwargs"), VIEWER_PAGES)
def test_viewers_see_the_pages(client, viewer, name, kwargs):
    client.force_login(viewer)
    assert client.get(url(name, kwargs)).status_code == 200


def test_inactive_staff_get_the_login_page(client, viewer):
    viewer.is_active = False
    viewer.save()
    client.force_login(viewer)
    assert client.get(url("admin:djira_hook_changelist")).status_code == 302


def test_htmx_polls_of_a_logged_out_page_redirect_the_whole_page(client, db):
    response = client.get(url("admin:djira_traffic_rows"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("admin:login"))
    assert b"djira-traffic" not in response.content


def test_inspector_needs_its_own_permission(client, viewer, inspector_user):
    client.force_login(viewer)
    assert client.get(url("admin:djira_inspector_changelist")).status_code == 403
    client.force_login(inspector_user)
    response = client.get(url("admin:djira_inspector_changelist"))
    assert response.status_code == 200
    assert b'id="djira-catalog"' in response.content
    assert b"djira/js/client.js" in response.content


def test_superusers_see_everything(client, superuser):
    client.force_login(superuser)
    for name, kwargs in VIEWER_PAGES + [("admin:djira_inspector_changelist", {})]:
        assert client.get(url(name, kwargs)).status_code == 200, name


def test_admin_index_lists_the_console_for_viewers(client, viewer):
    client.force_login(viewer)
    response = client.get(reverse("admin:index"))
    assert reverse("admin:djira_connection_changelist").encode() in response.content
    assert reverse("admin:djira_traffic_changelist").encode() in response.content
    assert reverse("admin:djira_inspector_changelist").encode() not in response.content


def test_admin_index_hides_the_console_without_permission(client, staff_without_perms):
    client.force_login(staff_without_perms)
    response = client.get(reverse("admin:index"))
    assert b"/admin/djira/" not in response.content


def test_app_index_lists_every_page(client, superuser):
    client.force_login(superuser)
    response = client.get(reverse("admin:app_list", kwargs={"app_label": "djira"}))
    for model in ("hook", "connection", "room", "traffic", "inspector"):
        assert reverse(f"admin:djira_{model}_changelist").encode() in response.content


def test_hooks_page_lists_registered_hooks(client, viewer):
    client.force_login(viewer)
    response = client.get(url("admin:djira_hook_changelist"))
    content = response.content.decode()
    assert response.templates[0].name == "djira/admin/hooks.html"
    for name in ("books", "readonly", "tools"):
        assert f'data-hook="{name}"' in content
    assert "tests.testapp.hooks.BookAPIHook" in content
    assert "echo-both" in content and "IsAdminUser" in content
    assert "DjangoFilterBackend" in content


def test_pages_extend_the_admin_base(client, viewer):
    client.force_login(viewer)
    response = client.get(url("admin:djira_traffic_changelist"))
    names = [t.name for t in response.templates]
    assert "admin/base_site.html" in names
    assert b"djira/css/admin.css" in response.content
    assert b"htmx" in response.content


def test_connection_detail_of_unknown_sid_is_a_console_page_saying_so(client, viewer):
    client.force_login(viewer)
    response = client.get(url("admin:djira_connection_detail", {"sid": "nope"}))
    assert response.status_code == 404
    assert "djira/admin/base.html" in [t.name for t in response.templates]
    assert b"No such connection: it has disconnected" in response.content
    assert url("admin:djira_connection_changelist").encode() in response.content


def test_connection_detail_rejects_malformed_sids(client, viewer):
    client.force_login(viewer)
    response = client.get("/admin/djira/connection/a%20b%3Cscript%3E/")
    assert response.status_code == 404
    assert b"Not a Socket.IO session id" in response.content
    assert b"<script>" not in response.content


def test_an_unknown_trace_opened_on_its_own_is_a_console_page(client, viewer):
    client.force_login(viewer)
    response = client.get(url("admin:djira_traffic_trace", {"trace_id": "ffff-1"}))
    assert response.status_code == 404
    assert "djira/admin/trace.html" in [t.name for t in response.templates]
    assert b"No trace ffff-1" in response.content
    assert b'id="djira-trace"' in response.content  # Refresh and Close have their target


def test_an_unknown_trace_in_its_panel_says_so_in_place(client, viewer):
    client.force_login(viewer)
    response = client.get(
        url("admin:djira_traffic_trace", {"trace_id": "ffff-1"}), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert [t.name for t in response.templates] == ["djira/admin/partials/_trace.html"]
    assert b"No trace ffff-1" in response.content


def test_a_malformed_trace_id_is_a_console_page(client, viewer):
    client.force_login(viewer)
    response = client.get(url("admin:djira_traffic_trace", {"trace_id": "nope"}))
    assert response.status_code == 404
    assert b"Not a trace id" in response.content
    assert "djira/admin/not_found.html" in [t.name for t in response.templates]


def test_a_disconnect_row_shows_how_long_the_connection_lasted():
    from djira.admin.views.formatting import decorate_row

    row = {"seq": 1, "ts": 1.0, "direction": "disconnect", "sid": "s", "duration": 125.0}
    shown = decorate_row(row)
    assert shown["ms"] is None
    assert shown["lasted"] == "2 min"
    request = decorate_row({**row, "direction": "out", "duration": 0.0123})
    assert request["lasted"] == "" and round(request["ms"], 1) == 12.3


def test_a_new_connection_is_seconds_old_not_zero_minutes():
    from datetime import timedelta

    from django.utils import timezone

    from djira.admin.views.formatting import ago

    assert ago(timezone.now() - timedelta(seconds=12)) == "12 s ago"
    assert ago(timezone.now() - timedelta(minutes=3, seconds=5)) == "3\xa0minutes ago"


def test_act_as_entries_read_as_themselves_in_recent_actions(client, superuser):
    from djira.admin.actas import ActingAs, write_log_entry

    acting = ActingAs(superuser.pk, superuser.username, 42, "bob")
    write_log_entry(acting, "Inspector request as bob: tasks POST -> 201", "tasks POST -> 201")
    client.force_login(superuser)
    content = client.get(url("admin:index")).content.decode()
    entry = content[content.index("Inspector request as bob") - 300 :]
    entry = entry[: entry.index("</li>")]
    assert "Inspector request as bob: tasks POST -&gt; 201" in entry
    # Not a change of the user (the admin's pencil), nor an addition or a deletion.
    assert "changelink" not in entry and "addlink" not in entry and "deletelink" not in entry
    assert "<a " not in entry.split("<li")[-1]  # no link to an object to edit


def test_connection_panel_of_a_gone_connection_says_so(client, viewer):
    client.force_login(viewer)
    response = client.get(url("admin:djira_connection_panel", {"sid": "gone"}))
    assert response.status_code == 200
    assert b"is gone" in response.content


def test_traffic_filters_reject_nonsense_quietly(client, viewer):
    client.force_login(viewer)
    response = client.get(
        url("admin:djira_traffic_rows"), {"since": "abc", "status": "9xx", "direction": "sideways"}
    )
    assert response.status_code == 200


def test_traffic_page_says_when_recording_is_off(client, viewer, settings):
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "RECORD_TRAFFIC": False}
    client.force_login(viewer)
    assert b"Traffic recording is off" in client.get(url("admin:djira_traffic_changelist")).content


# -- disconnect ---------------------------------------------------------------------------


def disconnect_url(sid="abc"):
    return url("admin:djira_connection_disconnect", {"sid": sid})


def test_disconnect_needs_its_permission(client, viewer):
    client.force_login(viewer)
    assert client.post(disconnect_url()).status_code == 403


def test_disconnect_refuses_get(client, operator):
    client.force_login(operator)
    assert client.get(disconnect_url()).status_code == 405


def test_disconnect_needs_csrf(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post(disconnect_url()).status_code == 403


def test_disconnect_of_unknown_sid_is_404_and_not_logged(client, operator):
    client.force_login(operator)
    assert client.post(disconnect_url("unknown")).status_code == 404
    assert not LogEntry.objects.exists()


def test_disconnect_for_anonymous_goes_to_login(client, db):
    response = client.post(disconnect_url())
    assert response.status_code == 302


def test_disconnect_button_only_for_permitted_users(client, viewer, operator):
    # The button is on the detail page, which needs a live connection: see test_live.py.
    client.force_login(viewer)
    assert client.get(url("admin:djira_connection_changelist")).context["can_disconnect"] is False
    client.force_login(operator)
    assert client.get(url("admin:djira_connection_changelist")).context["can_disconnect"] is True


def test_a_missing_django_htmx_is_a_system_check_warning(settings):
    from djira.admin.checks import check_console

    assert "djira.W101" not in [e.id for e in check_console()]
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django_htmx"]
    assert "djira.W101" in [e.id for e in check_console()]
