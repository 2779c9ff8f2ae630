"""The hooks catalog describes routes, verbs, policies and serializer fields."""

from __future__ import annotations

from djira.admin.catalog import describe_hook, get_catalog
from tests.testapp import hooks


def route(desc, label):
    return next(r for r in desc["routes"] if r["label"] == label)


def test_crud_routes_list_their_verbs():
    desc = describe_hook("books", hooks.BookAPIHook)
    assert route(desc, "(list)")["actions"] == ["GET", "POST"]
    assert route(desc, "(detail)")["actions"] == ["GET", "PUT", "PATCH", "DELETE"]
    assert route(desc, "(detail)")["detail"] is True


def test_action_routes_use_their_namespace_and_verbs():
    desc = describe_hook("books", hooks.BookAPIHook)
    assert route(desc, "echo-both")["actions"] == ["POST", "PATCH"]
    assert route(desc, "count")["name"] == "count"


def test_route_permission_overrides_are_shown():
    desc = describe_hook("books", hooks.BookAPIHook)
    assert route(desc, "admin_only")["permissions"] == ["IsAdminUser"]
    assert route(desc, "owned")["permissions"] == ["AND(IsAuthenticated, IsOwner)"]
    assert route(desc, "count")["permissions"] == ["AllowAny"]  # the default setting


def test_serializer_fields_carry_types_and_flags():
    fields = {
        f["name"]: f
        for f in route(describe_hook("books", hooks.BookAPIHook), "(list)")["serializer"]["fields"]
    }
    assert fields["id"]["read_only"] is True
    assert fields["owner"]["read_only"] is True
    assert fields["title"]["required"] is True and fields["title"]["type"] == "CharField"
    assert fields["title"]["input"] == "text"
    assert fields["year"]["input"] == "number"


def test_filtering_and_pagination_are_described():
    desc = describe_hook("books", hooks.BookAPIHook)
    assert desc["filter_backends"] == ["DjangoFilterBackend", "SearchFilter", "OrderingFilter"]
    assert desc["filter_fields"] == ["author", "year"]
    assert desc["search_fields"] == ["title"]
    assert desc["ordering_fields"] == ["title", "year"]
    assert desc["pagination"] == "PagePagination"
    assert (
        describe_hook("readonly", hooks.ReadOnlyBookAPIHook)["pagination"]
        == "LimitOffsetPagination"
    )
    assert describe_hook("private", hooks.PrivateBookAPIHook)["pagination"] is None


def test_plain_hooks_have_no_serializer_or_crud():
    desc = describe_hook("tools", hooks.ToolsAPIHook)
    assert "route" in [r["label"] for r in desc["routes"]]
    assert all(r["serializer"] is None for r in desc["routes"])


def test_catalog_is_sorted_by_name():
    catalog = get_catalog({"b": hooks.ToolsAPIHook, "a": hooks.BookAPIHook})
    assert [h["name"] for h in catalog] == ["a", "b"]
    assert catalog[0]["class"] == "tests.testapp.hooks.BookAPIHook"


def test_observers_and_their_rooms_are_listed():
    from tests.testapp import observed

    observers = {
        o["name"]: o for o in describe_hook("observed", observed.ObservedBookHook)["observers"]
    }
    assert observers["books"]["class"] == "ModelObserver"
    assert observers["books"]["model"] == "testapp.Book"
    assert observers["books"]["rooms"] == "book, book__<pk>"
    assert observers["owned"]["rooms"] == "owned_rooms(instance)"
    assert observers["owned"]["subscribing"] == "owned_subscribing_rooms(scope)"
    assert "flags" in observers
