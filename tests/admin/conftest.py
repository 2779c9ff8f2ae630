"""Fixtures for the admin console: users with and without djira's permissions, a consumer."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from djira.consumer import Consumer
from djira.settings import jira_settings
from tests.testapp import hooks


def make_user(django_user_model, name, *, staff=True, perms=(), superuser=False):
    user = django_user_model.objects.create_user(
        name, password=f"pw-{name}-123", is_staff=staff, is_superuser=superuser
    )
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="djira", codename=codename)
        )
    return user


@pytest.fixture
def viewer(db, django_user_model):
    return make_user(django_user_model, "viewer", perms=["view_dashboard"])


@pytest.fixture
def inspector_user(db, django_user_model):
    return make_user(django_user_model, "inspector", perms=["view_dashboard", "use_inspector"])


@pytest.fixture
def operator(db, django_user_model):
    return make_user(django_user_model, "operator", perms=["view_dashboard", "disconnect_client"])


@pytest.fixture
def staff_without_perms(db, django_user_model):
    return make_user(django_user_model, "staffer")


@pytest.fixture
def non_staff_with_perms(db, django_user_model):
    return make_user(
        django_user_model,
        "outsider",
        staff=False,
        perms=["view_dashboard", "use_inspector", "disconnect_client"],
    )


@pytest.fixture
def superuser(db, django_user_model):
    return make_user(django_user_model, "boss", superuser=True)


@pytest.fixture
def consumer():
    """The test hooks on this process's server, as tests/asgi.py registers them."""
    sio = jira_settings.SOCKET_INSTANCE
    previous = sio.djira_consumer
    consumer = Consumer(sio)
    consumer.register("books", hooks.BookAPIHook)
    consumer.register("readonly", hooks.ReadOnlyBookAPIHook)
    consumer.register("tools", hooks.ToolsAPIHook)
    yield consumer
    sio.djira_consumer = previous
