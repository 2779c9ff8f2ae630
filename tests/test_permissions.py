"""Permissions per hook, per action and per object, DRF's classes included."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from djira.permissions import AllowAny, BasePermission, IsAdminUser, IsAuthenticated
from djira.scope import Scope
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")


async def test_drf_is_authenticated_on_hook_gives_401_to_anonymous(connect):
    client = await connect()
    reply = await client.request("readonly")
    assert reply["status"] == 401
    assert reply["data"] == {"detail": "Authentication credentials were not provided."}


async def test_action_permission_gives_403_to_non_admin(connect, token):
    client = await connect(token=token)
    reply = await client.request("books", namespace="admin_only")
    assert reply["status"] == 403


async def test_action_permission_admits_admin(connect, admin_user):
    key = (await sync_to_async(Token.objects.create)(user=admin_user)).key
    client = await connect(token=key)
    assert (await client.request("books", namespace="admin_only"))["data"] == {"ok": True}


async def test_object_permission_refuses_other_users_object(connect, token, other_user):
    book = await Book.objects.acreate(title="theirs", owner=other_user)
    client = await connect(token=token)
    reply = await client.request("books", namespace="owned", action="DELETE", pk=book.pk)
    assert reply["status"] == 403
    assert reply["data"]["detail"] == "Not your book."


async def test_object_permission_admits_owner(connect, token, user):
    book = await Book.objects.acreate(title="mine", owner=user)
    client = await connect(token=token)
    reply = await client.request("books", namespace="owned", action="DELETE", pk=book.pk)
    assert reply == {**reply, "status": 200, "data": {"id": book.pk}}


async def test_django_model_permissions_work_unchanged(connect, user, token):
    client = await connect(token=token)
    assert (await client.request("private"))["status"] == 200  # DRF: reads need no perm
    reply = await client.request("private", action="POST", data={"title": "x"})
    assert reply["status"] == 403
    perm = await Permission.objects.aget(codename="add_book")
    await sync_to_async(user.user_permissions.add)(perm)
    reply = await client.request("private", action="POST", data={"title": "x"})
    assert reply["status"] == 201


async def test_django_model_permissions_need_authentication(connect):
    client = await connect()
    assert (await client.request("private"))["status"] == 401


def test_composition_with_and_or_not():
    class Never(BasePermission):
        def has_permission(self, scope):
            return False

    scope = Scope(sid="s", event="e")
    assert (AllowAny | Never)().has_permission(scope, None)
    assert not (AllowAny & Never)().has_permission(scope, None)
    assert (~Never)().has_permission(scope, None)
    assert not (IsAuthenticated | IsAdminUser)().can_connect(scope)


async def test_throttle_gives_429(connect, token):
    client = await connect(token=token)
    statuses = [(await client.request("books", namespace="throttled"))["status"] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_the_same_composition_is_the_same_class():
    # get_permissions() may compose per request: one class per expression, not one per call.
    assert (IsAuthenticated & IsAdminUser) is (IsAuthenticated & IsAdminUser)
    assert ~IsAdminUser is ~IsAdminUser
    assert (IsAuthenticated | IsAdminUser) is not (IsAdminUser | IsAuthenticated)


def test_each_request_has_its_own_user_without_permission_caches(user):
    from djira.handler import request_user

    user._perm_cache = {"testapp.view_book"}
    own = request_user(user)
    assert own is not user and own.pk == user.pk and own._state is not user._state
    assert not hasattr(own, "_perm_cache")
    own._user_perm_cache = set()
    assert not hasattr(user, "_user_perm_cache")
