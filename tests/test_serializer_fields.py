"""Model serializers' fields built once per class and copied per instance (djira.serializer_fields).

Every case compares with DRF building the fields itself, on the same serializer.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import override_settings
from rest_framework import serializers

from djira import serializer_fields
from djira.serializer_fields import reuse_fields
from tests.testapp.models import Book
from tests.testapp.serializers import BookSerializer

pytestmark = pytest.mark.django_db


class Scope:
    def __init__(self, user):
        self.user = user


class RichBookSerializer(serializers.ModelSerializer):
    """Declared fields of many kinds next to the model's own."""

    owner = serializers.HiddenField(default=serializers.CurrentUserDefault())
    owner_id = serializers.IntegerField(read_only=True)
    shelf = serializers.ChoiceField(choices=["top", "bottom"], default="top", write_only=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False, write_only=True)
    viewer = serializers.SerializerMethodField()
    stamped = serializers.DateTimeField(default=datetime.datetime(2024, 1, 1), write_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "author", "year", "owner", "owner_id", "shelf", "tags", "viewer"]
        fields += ["stamped"]
        extra_kwargs = {"author": {"min_length": 2}}

    def get_viewer(self, obj):
        return self.context["request"].user.username


class NestedBookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title", "owner"]
        depth = 1


class ContextFieldsSerializer(serializers.ModelSerializer):
    """Chooses its fields from the context: DRF's builders overridden, so never templated."""

    class Meta:
        model = Book
        fields = ["id", "title", "secret"]

    def get_field_names(self, declared_fields, info):
        names = super().get_field_names(declared_fields, info)
        return names if self.context.get("staff") else [n for n in names if n != "secret"]


class DynamicFieldsSerializer(serializers.ModelSerializer):
    """The common "fields=" pattern: __init__ drops fields from self.fields."""

    class Meta:
        model = Book
        fields = ["id", "title", "author", "year"]

    def __init__(self, *args, only=None, **kwargs):
        super().__init__(*args, **kwargs)
        if only is not None:
            for name in set(self.fields) - set(only):
                self.fields.pop(name)


def both(serializer_class, *args, **kwargs):
    """(DRF's own, templated) instances built with the same arguments."""
    return serializer_class(*args, **kwargs), reuse_fields(serializer_class(*args, **kwargs))


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password="pw-alice-1")


@pytest.fixture
def book(alice):
    return Book.objects.create(title="Dune", author="Herbert", year=1965, owner=alice)


@pytest.mark.parametrize("serializer_class", [BookSerializer, RichBookSerializer])
def test_a_templated_serializer_reads_as_drf_does(serializer_class, book, alice):
    context = {"request": Scope(alice)}
    drf, templated = both(serializer_class, book, context=context)
    assert templated.data == drf.data
    assert type(serializer_fields._templates[serializer_class]) is dict
    drf_list, templated_list = both(serializer_class, [book, book], many=True, context=context)
    assert templated_list.data == drf_list.data


@pytest.mark.parametrize(
    "data",
    [
        {"title": "Emma", "author": "Austen", "year": 1815, "shelf": "top", "tags": ["a"]},
        {"title": "", "author": "A", "year": "x", "shelf": "middle", "tags": "no"},
        {},
    ],
)
def test_a_templated_serializer_validates_as_drf_does(data, alice):
    context = {"request": Scope(alice)}
    drf, templated = both(RichBookSerializer, data=data, context=context)
    assert templated.is_valid() is drf.is_valid()
    assert templated.errors == drf.errors
    if drf.errors:
        return
    assert templated.validated_data == drf.validated_data
    assert templated.validated_data["owner"] == alice  # the hidden default, per request


def test_each_instance_has_its_own_fields(book, alice):
    context = {"request": Scope(alice)}
    first = reuse_fields(RichBookSerializer(book, context=context))
    second = reuse_fields(RichBookSerializer(book, context=context))
    template = serializer_fields._templates[RichBookSerializer]
    for name, field in first.fields.items():
        assert field is not second.fields[name] and field is not template[name]
        assert field.parent is first and second.fields[name].parent is second
        assert template[name].parent is None  # the template is never bound
    title = first.fields["title"]
    title.validators.append(lambda value: None)
    title.error_messages["blank"] = "changed"
    title.style["placeholder"] = "changed"
    assert len(second.fields["title"].validators) == len(template["title"].validators)
    assert second.fields["title"].error_messages["blank"] != "changed"
    assert "placeholder" not in second.fields["title"].style
    # Defaults that are objects are copied as DRF copies them; ListField's child too.
    assert first.fields["owner"].default is not second.fields["owner"].default
    assert first.fields["tags"].child is not second.fields["tags"].child
    assert first.fields["tags"].child.parent is first.fields["tags"]


def test_fields_read_their_own_instance_context(book, alice):
    bob = User.objects.create_user("bob", password="pw-bob-12")
    as_alice = reuse_fields(RichBookSerializer(book, context={"request": Scope(alice)}))
    as_bob = reuse_fields(RichBookSerializer(book, context={"request": Scope(bob)}))
    assert (as_alice.data["viewer"], as_bob.data["viewer"]) == ("alice", "bob")


def test_nested_serializers_are_copied_whole(book, alice):
    drf, templated = both(NestedBookSerializer, book)
    assert templated.data == drf.data
    assert templated.data["owner"]["username"] == "alice"


def test_a_serializer_that_builds_fields_from_its_context_is_left_to_drf(book):
    plain = reuse_fields(ContextFieldsSerializer(book, context={}))
    staff = reuse_fields(ContextFieldsSerializer(book, context={"staff": True}))
    assert "secret" not in plain.data and "secret" in staff.data
    assert serializer_fields._templates[ContextFieldsSerializer] is None


def test_fields_changed_in_init_stay_changed_and_only_there(book):
    narrow = reuse_fields(DynamicFieldsSerializer(book, only=["id", "title"]))
    assert set(narrow.data) == {"id", "title"}
    wide = reuse_fields(DynamicFieldsSerializer(book))
    assert set(wide.data) == {"id", "title", "author", "year"}


def test_plain_serializers_are_untouched():
    class Plain(serializers.Serializer):
        name = serializers.CharField()

    serializer = reuse_fields(Plain(data={"name": "x"}))
    assert "fields" not in serializer.__dict__
    assert Plain not in serializer_fields._templates or serializer_fields._templates[Plain] is None


def test_changing_rest_framework_settings_drops_the_templates(book):
    reuse_fields(BookSerializer(book))
    assert BookSerializer in serializer_fields._templates
    with override_settings(REST_FRAMEWORK={"COERCE_DECIMAL_TO_STRING": False}):
        assert BookSerializer not in serializer_fields._templates


def test_hooks_use_templates_unless_turned_off(book, alice):
    from tests.testapp.hooks import BookAPIHook

    class FakeScope:
        user = AnonymousUser()

    hook = BookAPIHook.__new__(BookAPIHook)
    hook.scope = FakeScope()
    assert "fields" in hook.get_serializer(book).__dict__
    with override_settings(DJIRA_SETTINGS={"REUSE_SERIALIZER_FIELDS": False}):
        assert "fields" not in hook.get_serializer(book).__dict__


def test_observer_pushes_use_templates_too(book, monkeypatch):
    from tests.testapp.observed import ObservedBookHook

    built = []
    monkeypatch.setattr(serializer_fields, "reuse_fields", lambda s: built.append(s) or s)
    observer = ObservedBookHook.__dict__["books"]
    data = observer.serialize(ObservedBookHook, book, "update")
    assert data == BookSerializer(book).data
    assert [type(s) for s in built] == [BookSerializer]
