"""Which async routes run their permission and throttle checks on the loop (no thread hop):
only those guarded by permission classes that read nothing but the request's user and verb,
exactly (djira.base.LOOP_SAFE_PERMISSIONS), with no throttle and the policy methods as
APIHook defines them. Anything else may query the database, so it keeps the hop."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings
from rest_framework import permissions as drf
from rest_framework.exceptions import NotAuthenticated
from rest_framework.throttling import AnonRateThrottle

from djira import permissions
from djira.decorators import action
from djira.hooks import APIHook
from djira.scope import Scope


class Hook(APIHook):
    @action(actions=["GET"])
    async def here(self, scope):
        return {}


def on_loop(**attrs) -> bool:
    hook_class = type("Probe", (Hook,), attrs)
    return hook_class.__new__(hook_class)._checks_read_only_the_user()


class MyIsAuthenticated(permissions.IsAuthenticated):
    """A subclass: it could query, so it runs in a worker thread."""


@pytest.mark.parametrize(
    "classes",
    [
        [permissions.AllowAny],
        [permissions.IsAuthenticated, permissions.IsAdminUser],
        [drf.IsAuthenticatedOrReadOnly],
        [],
    ],
)
def test_user_only_permissions_run_on_the_loop(classes):
    assert on_loop(permission_classes=classes, throttle_classes=[])


@pytest.mark.parametrize(
    "attrs",
    [
        {"permission_classes": [MyIsAuthenticated]},
        {"permission_classes": [drf.DjangoModelPermissions]},
        {"permission_classes": [drf.IsAuthenticated & drf.IsAdminUser]},  # composed
        {"permission_classes": [permissions.AllowAny], "throttle_classes": [AnonRateThrottle]},
        {"get_permissions": lambda self: [permissions.AllowAny()]},
        {"check_permissions": lambda self, scope: None},
    ],
    ids=["subclass", "model-permissions", "composed", "throttled", "get_permissions", "check"],
)
def test_anything_else_keeps_the_thread_hop(attrs):
    assert not on_loop(**{"throttle_classes": [], **attrs})


def test_the_settings_defaults_count_when_the_hook_sets_none():
    with override_settings(DJIRA_SETTINGS={"PERMISSION_CLASSES": ["djira.permissions.AllowAny"]}):
        assert on_loop()
    djira = {"PERMISSION_CLASSES": ["tests.test_loop_checks.MyIsAuthenticated"]}
    with override_settings(DJIRA_SETTINGS=djira):
        assert not on_loop()


async def test_where_the_checks_run_and_that_they_still_refuse():
    seen: list[str] = []

    class Recording(permissions.IsAuthenticated):
        def has_permission(self, scope, hook):
            seen.append(threading.current_thread().name)
            return super().has_permission(scope, hook)

    def run(permission_classes):
        hook_class = type("Probe", (Hook,), {"permission_classes": permission_classes})
        scope = Scope(sid="s", event="probe", namespace="here", action="GET")
        scope.user = AnonymousUser()
        return hook_class(scope, None).run()

    with pytest.raises(NotAuthenticated):  # on the loop: still refused (a 401 reply)
        await run([permissions.IsAuthenticated])
    with pytest.raises(NotAuthenticated):
        await run([Recording])
    assert seen and seen[0] != threading.current_thread().name  # a worker thread
