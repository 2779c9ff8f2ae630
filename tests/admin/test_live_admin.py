"""The live admin's server side: rows rendered as the changelist renders them, who may
follow what, and the change form's conflict check (djira.admin.live)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.checks import run_checks
from django.test import RequestFactory, override_settings
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from djira.admin.live import registry
from djira.admin.live.access import subscribing_rooms
from djira.admin.live.options import LiveModelAdminMixin
from djira.admin.live.rows import PKS
from djira.admin.live.versions import FIELD, LiveVersionForm, version_of
from djira.scope import Scope
from tests.admin.live_admin_site import BookAdmin, site
from tests.testapp.models import Book

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.admin.live_admin_site")]


def staff(django_user_model, name, *codenames, superuser=False):
    user = django_user_model.objects.create_user(
        name, password="pw", is_staff=True, is_superuser=superuser
    )
    perms = Permission.objects.filter(content_type__app_label="testapp", codename__in=codenames)
    user.user_permissions.add(*perms)
    return user


@pytest.fixture
def boss(django_user_model):
    return staff(django_user_model, "boss", superuser=True)


@pytest.fixture
def ann(django_user_model):
    return staff(django_user_model, "ann", "view_book", "change_book")


@pytest.fixture
def books(boss, ann):
    return {
        "ann": Book.objects.create(title="Ann's dune", author="Herbert", year=1965, owner=ann),
        "boss": Book.objects.create(title="Boss's dune", year=1965, owner=boss),
        "old": Book.objects.create(title="Old tale", year=1900, owner=ann),
    }


def rows(client, user, query=""):
    client.force_login(user)
    return client.get(f"/live-admin/testapp/book/djira-live/rows/?{query}")


def rows_view(request):
    return LiveModelAdminMixin.live_rows_view(site._registry[Book], request)


@pytest.fixture
def rows_client(client, monkeypatch):
    # The plain BookAdmin, given the mixin's rows view at the URL a live admin has.
    from django.urls import path

    from tests.admin import live_admin_site

    view = site.admin_view(rows_view)
    monkeypatch.setattr(
        live_admin_site,
        "urlpatterns",
        [path("live-admin/testapp/book/djira-live/rows/", view), *live_admin_site.urlpatterns],
    )
    return client


def test_a_row_is_rendered_as_the_changelist_renders_it(rows_client, boss, books):
    pk = books["ann"].pk
    reply = rows(rows_client, boss, f"{PKS}={pk}").json()
    page = rows_client.get("/live-admin/testapp/book/").content.decode()
    cells = reply["rows"][str(pk)]
    # Display functions, links, formatting: the same HTML as the page's own row.
    assert "in 1965" in cells and f"/testapp/book/{pk}/change/" in cells
    assert cells in page
    assert reply["missing"] == [] and reply["editable"] is False


def test_filters_and_search_of_the_page_apply(rows_client, boss, books):
    pks = ",".join(str(b.pk) for b in books.values())
    reply = rows(rows_client, boss, f"year=1965&q=dune&{PKS}={pks}").json()
    assert set(reply["rows"]) == {str(books["ann"].pk), str(books["boss"].pk)}
    assert reply["missing"] == [str(books["old"].pk)]
    reply = rows(rows_client, boss, f"q=Boss&{PKS}={pks}").json()
    assert set(reply["rows"]) == {str(books["boss"].pk)}


def test_the_page_number_does_not_matter(rows_client, boss, books):
    # Page 9 of a one-page list: the rows are looked for in the whole filtered list.
    reply = rows(rows_client, boss, f"p=9&year=1965&{PKS}={books['boss'].pk}")
    assert reply.status_code == 200
    assert list(reply.json()["rows"]) == [str(books["boss"].pk)]


def test_rows_hidden_by_get_queryset_are_missing_for_that_user(rows_client, ann, books):
    pks = f"{books['ann'].pk},{books['boss'].pk}"
    reply = rows(rows_client, ann, f"{PKS}={pks}").json()
    assert list(reply["rows"]) == [str(books["ann"].pk)]
    assert reply["missing"] == [str(books["boss"].pk)]


def test_a_deleted_row_is_missing(rows_client, boss, books):
    pk = books["old"].pk
    books["old"].delete()
    assert rows(rows_client, boss, f"{PKS}={pk}").json() == {
        "rows": {},
        "missing": [str(pk)],
        "editable": False,
    }


def test_no_view_permission_is_403(rows_client, django_user_model, books):
    clerk = staff(django_user_model, "clerk")
    response = rows(rows_client, clerk, f"{PKS}={books['ann'].pk}")
    assert response.status_code == 403
    assert "rows" not in response.json()


@pytest.mark.parametrize("query", [f"{PKS}=abc", f"{PKS}=", "", f"bogus__field=1&{PKS}=1"])
def test_bad_keys_or_filters_are_400(rows_client, boss, query):
    response = rows(rows_client, boss, query)
    assert response.status_code == 400
    assert response.json()["detail"]


# -- who may follow what -----------------------------------------------------------------


class LiveBookAdmin(LiveModelAdminMixin, BookAdmin):
    pass


@pytest.fixture
def live_books():
    # The access rules read the registry only: made without the mixin's ``__init__`` (which
    # builds the observer), so no signal of Book is connected in the test process.
    live = object.__new__(LiveBookAdmin)
    BookAdmin.__init__(live, Book, site)
    registry.admins["testapp.book"] = live
    yield
    registry.admins.pop("testapp.book", None)


def scope(user, namespace="changelist", pk=None, data=None):
    return Scope(
        sid="s1",
        event="djira-admin-live",
        user=user,
        namespace=namespace,
        action="SUBSCRIPTION",
        pk=pk,
        data={"model": "testapp.book"} if data is None else data,
    )


def test_staff_who_may_view_follow_the_model_room(live_books, ann):
    assert subscribing_rooms(None, scope(ann)) == ["book"]


@pytest.mark.usefixtures("live_books")
def test_users_who_may_not_view_follow_nothing(django_user_model):
    from django.contrib.auth.models import AnonymousUser

    clerk = staff(django_user_model, "clerk")
    reader = django_user_model.objects.create_user("reader")  # not staff
    reader.user_permissions.add(Permission.objects.get(codename="view_book"))
    for user in (AnonymousUser(), reader, clerk):
        with pytest.raises(PermissionDenied):
            subscribing_rooms(None, scope(user))


def test_a_row_is_followed_only_where_the_admin_shows_it(live_books, ann, books):
    assert subscribing_rooms(None, scope(ann, "object", books["ann"].pk)) == [
        f"book__{books['ann'].pk}"
    ]
    with pytest.raises(NotFound):  # boss's book: not in ann's get_queryset
        subscribing_rooms(None, scope(ann, "object", books["boss"].pk))
    with pytest.raises(ValidationError):
        subscribing_rooms(None, scope(ann, "object", "not-a-key"))
    with pytest.raises(ValidationError):
        subscribing_rooms(None, scope(ann, "object"))


@pytest.mark.parametrize("data", [{}, {"model": 3}, "testapp.book", {"model": "auth.user"}])
def test_bad_model_names_are_refused(live_books, ann, data):
    with pytest.raises((ValidationError, NotFound)):
        subscribing_rooms(None, scope(ann, data=data))


# -- the conflict check ------------------------------------------------------------------


def book_form(boss):
    request = RequestFactory().get("/")
    request.user = boss
    form = BookAdmin(Book, site).get_form(request, Book(), fields=["title", "year"])
    return type("LiveBookForm", (LiveVersionForm, form), {})


def post(boss, book, version, **values):
    data = {"title": book.title, "year": book.year, **values}
    if version is not None:
        data[FIELD] = version
    fresh = Book.objects.get(pk=book.pk)  # what the change view reads on POST
    return book_form(boss)(data, instance=fresh)


def test_saving_over_a_newer_row_asks_first(boss, books):
    book = books["ann"]
    form_class = book_form(boss)
    loaded = version_of(book, form_class(instance=book).version_fields())
    Book.objects.filter(pk=book.pk).update(title="Saved meanwhile")

    form = post(boss, book, loaded, year=1966)
    assert not form.is_valid()
    message = form.non_field_errors()[0]
    assert "Someone else saved this book" in message
    assert re.search(r"<b>Title</b>: Saved meanwhile", message)
    assert "Year" not in message  # unchanged by the other save
    # The form carries the row's version now: saving again is the confirmation.
    assert form.djira_version != loaded
    again = post(boss, book, form.djira_version, year=1966)
    assert again.is_valid(), again.errors


def test_fields_the_form_does_not_edit_do_not_conflict(boss, books):
    book = books["ann"]
    loaded = version_of(book, book_form(boss)(instance=book).version_fields())
    Book.objects.filter(pk=book.pk).update(author="Someone else", secret="x")
    assert post(boss, book, loaded, year=1966).is_valid()


def test_without_a_version_nothing_is_compared(boss, books):
    Book.objects.filter(pk=books["ann"].pk).update(title="Saved meanwhile")
    assert post(boss, books["ann"], None).is_valid()
    assert post(boss, books["ann"], "garbage;;:").is_valid()


def test_another_error_keeps_the_version_the_values_came_from(boss, books):
    book = books["ann"]
    loaded = version_of(book, book_form(boss)(instance=book).version_fields())
    form = post(boss, book, loaded, year="not a year")
    assert not form.is_valid()
    assert form.djira_version == loaded


# -- checks ------------------------------------------------------------------------------


def test_live_admin_setting_without_the_app_fails_the_check():
    with override_settings(DJIRA_SETTINGS={"LIVE_ADMIN": True}):
        ids = [m.id for m in run_checks(tags=["djira"])]
    assert "djira.E120" in ids


def test_a_live_admin_hiding_rows_without_rooms_is_warned(live_books):
    messages = [m for m in run_checks(tags=["djira"]) if m.id == "djira.W120"]
    assert [m.obj for m in messages] == [LiveBookAdmin]


# -- LIVE_ADMIN: every admin of a site made live -----------------------------------------


@pytest.fixture
def unobserved_afterwards():
    """Disconnect what making Book live connects, so other tests' Book saves push nothing."""
    from django.db.models.signals import post_delete, post_save, pre_save

    yield
    found = registry.observers.pop("testapp.book", None)
    registry.admins.pop("testapp.book", None)
    if found is not None:
        uid = f"djira:{found.uid}"
        pre_save.disconnect(sender=Book, dispatch_uid=uid + ":pre")
        post_save.disconnect(sender=Book, dispatch_uid=uid + ":save")
        post_delete.disconnect(sender=Book, dispatch_uid=uid + ":del")


@pytest.mark.usefixtures("unobserved_afterwards")
def test_make_site_live_registers_each_admin_again_with_the_mixin():
    from django.contrib import admin

    from djira.admin.live.apps import make_site_live

    other = admin.AdminSite(name="other")
    other.register(Book, BookAdmin)
    made = make_site_live(other)
    live = other._registry[Book]
    assert [type(live)] == made
    assert isinstance(live, LiveModelAdminMixin) and isinstance(live, BookAdmin)
    assert type(live).__name__ == "BookAdmin"
    assert registry.get_live_admin("testapp.book") is live
    assert registry.get_observer(Book) is not None
    assert make_site_live(other) == []  # already live: left alone


# -- nobody watching: no pushes (djira.admin.live.watching) -------------------------------


@pytest.fixture
def observed(settings, unobserved_afterwards):
    """Book's live observer connected, the database outbox, flags shared through the database
    (a heartbeat interval: the suite's ``None`` keeps them in this process, unshared)."""
    from djira.admin.live import watching

    settings.DJIRA_SETTINGS = {
        **settings.DJIRA_SETTINGS,
        "DELIVERY_BACKEND": "database",
        "HEARTBEAT_INTERVAL": 2,
    }
    watching.forget()
    LiveBookAdmin(Book, site)
    yield
    watching.forget()


LIVE_UID = "djira.admin.live.observers.Live_testapp_book.changes"


def outbox_rows():
    """The live admin's pushes in the outbox (other observers of Book push too)."""
    from djira.delivery.models import Outbox

    return Outbox.objects.filter(payload__contains=LIVE_UID).count()


def test_a_save_nobody_watches_writes_no_push(observed, books):
    before = outbox_rows()
    books["ann"].title = "Unwatched"
    books["ann"].save()
    books["old"].delete()
    assert outbox_rows() == before


def test_a_save_nobody_watches_costs_the_live_admin_no_query(observed, books):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from djira.admin.live.watching import is_watched

    assert not is_watched("testapp.book")  # read once a second: the save trusts this read
    with CaptureQueriesContext(connection) as captured:
        books["ann"].save()
    sql = [q["sql"] for q in captured.captured_queries]
    assert not [q for q in sql if LIVE_UID in q or "djira_process" in q]
    assert any(q.startswith("UPDATE") for q in sql)


def test_a_changelist_that_subscribes_makes_saves_push(observed, ann, books):
    assert subscribing_rooms(None, scope(ann)) == ["book"]
    before = outbox_rows()
    books["ann"].title = "Watched"
    books["ann"].save()
    assert outbox_rows() > before


def test_a_flag_raised_by_another_process_is_read_from_the_registry(observed, books):
    from djira.admin.live import watching
    from djira.delivery.backends import get_registry

    get_registry().flag("live:testapp.book", 30)  # as another server would
    watching.forget()  # this process read nothing yet
    before = outbox_rows()
    books["ann"].save()
    assert outbox_rows() > before


def test_a_renewal_needs_a_user_who_may_view(observed, django_user_model, books):
    from djira.admin.live.access import renew
    from djira.admin.live.watching import is_watched

    nobody = staff(django_user_model, "nobody")
    with pytest.raises(PermissionDenied):
        renew(scope(nobody, namespace="watching"))
    assert not is_watched("testapp.book")


def test_a_renewal_raises_the_flag_for_every_process(observed, ann):
    from djira.admin.live import watching
    from djira.admin.live.access import renew

    renew(scope(ann, namespace="watching"))
    watching.forget()  # another process's view: only the registry knows
    assert watching.is_watched("testapp.book")


def test_the_changelist_page_raises_the_flag_before_reading_rows(observed, boss):
    from djira.admin.live import watching

    request = RequestFactory().get("/live-admin/testapp/book/")
    request.user = boss
    assert LiveBookAdmin(Book, site).changelist_view(request).status_code == 200
    watching.forget()
    assert watching.is_watched("testapp.book")


def test_flags_no_other_process_can_read_leave_every_save_pushing(observed, settings, books):
    from djira.admin.live import watching

    # The database outbox crosses processes, but flags stay in this one: a shell's saves
    # could not know of a page, so every save pushes.
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "HEARTBEAT_INTERVAL": None}
    watching.forget()
    before = outbox_rows()
    books["ann"].save()
    assert outbox_rows() > before
