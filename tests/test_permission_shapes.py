"""Permission classes in every accepted shape: original README, DRF, djira; alone, composed
and as PERMISSION_CLASSES defaults; allow and deny; list, detail, connect and request."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from djira.permissions import (
    BasePermission,
    PermissionSignatureError,
    check,
    resolve,
    signature_errors,
)
from djira.scope import Scope
from djira.testing import ConnectionRefused
from tests.testapp.models import Book

pytestmark = pytest.mark.usefixtures("db_")

ALLOW = {"allow": "yes"}
SHAPES = ["shape_original", "shape_drf", "shape_djira", "shape_or", "shape_not"]


@pytest.mark.parametrize("event", SHAPES)
async def test_list_is_allowed_and_denied_by_the_shape(connect, event):
    client = await connect()
    assert (await client.request(event, headers=ALLOW))["status"] == 200
    denied = await client.request(event, headers={"allow": "no"})
    assert denied["status"] == 401  # anonymous: refusals are 401, as in DRF


@pytest.mark.parametrize("event", SHAPES)
async def test_detail_gets_the_object_not_the_hook(connect, event):
    ok = await Book.objects.acreate(title="fine")
    forbidden = await Book.objects.acreate(title="forbidden")
    client = await connect()
    reply = await client.request(event, pk=ok.pk, headers=ALLOW)
    assert reply["status"] == 200 and reply["data"]["title"] == "fine"
    reply = await client.request(event, pk=forbidden.pk, headers=ALLOW)
    assert reply["status"] == 401


async def test_refusal_reports_the_refusing_class_message(connect, token):
    client = await connect(token=token)
    reply = await client.request("shape_original", headers={"allow": "no"})
    assert reply["status"] == 403 and reply["data"]["detail"] == "original says no"
    reply = await client.request("shape_drf", headers={"allow": "no"})
    assert reply["data"]["detail"] == "drf says no"


@pytest.fixture(scope="module", params=["OriginalShape", "DjiraShape", "DrfShape"])
def shaped_server(request, live_server_factory):
    path = f"tests.testapp.shapes.{request.param}"
    return request.param, live_server_factory(DJIRA_TEST_PERMISSIONS=path)


async def test_can_connect_in_each_shape_as_default(shaped_server, connect):
    name, server = shaped_server
    if name == "DrfShape":  # DRF permissions have no can_connect: connections pass
        client = await connect(server.url)
    else:
        with pytest.raises(ConnectionRefused) as refused:
            await connect(server.url, auth={"pass": "no"})
        assert refused.value.status == 401
        client = await connect(server.url, auth={"pass": "yes"})
    # The default applies to hooks without permission_classes, in the same shape.
    assert (await client.request("shape_default", headers=ALLOW))["status"] == 200
    assert (await client.request("shape_default"))["status"] == 401
    forbidden = await Book.objects.acreate(title="forbidden")
    reply = await client.request("shape_default", pk=forbidden.pk, headers=ALLOW)
    assert reply["status"] == 401


# -- resolution, once per class ----------------------------------------------------------


def test_each_shape_is_resolved_from_the_parameters():
    class Mixed(BasePermission):
        def has_permission(self, scope, hook=None):  # two positional: the (request, view) shape
            return hook == "the hook"

        def has_object_permission(self, *args):  # variadic: the richest shape
            return args

    scope = Scope(sid="s", event="e")
    assert check(Mixed(), "has_permission", scope, "the hook")
    assert Mixed().has_object_permission(1, 2, 3) == (1, 2, 3)
    assert check(Mixed(), "has_object_permission", scope, "hook", "obj")
    assert resolve(Mixed, "has_permission") is resolve(Mixed, "has_permission")  # cached


@pytest.mark.parametrize(
    "source",
    [
        "def can_connect(self, sid, environ): return True",
        "def can_connect(self, scope, environ=None, auth=None): return True",
        "def has_permission(self): return True",
        "def has_object_permission(self, obj): return True",
        "def has_object_permission(self, a, b, c, d): return True",
    ],
)
def test_a_shape_that_fits_no_signature_is_refused_with_the_accepted_ones(source):
    namespace: dict = {}
    exec(source, namespace)
    name = source.split("(")[0].split()[-1]
    bad = type("Bad", (BasePermission,), {name: namespace[name]})
    with pytest.raises(PermissionSignatureError) as error:
        resolve(bad, name)
    assert "Bad." + name in str(error.value) and "accepted signatures" in str(error.value)
    assert signature_errors(bad) == [str(error.value)]


class Ambiguous(BasePermission):
    def has_object_permission(self, obj):
        return True


def test_manage_py_check_names_the_class_and_the_signatures():
    path = "tests.test_permission_shapes.Ambiguous"
    with (
        override_settings(DJIRA_SETTINGS={"PERMISSION_CLASSES": [path]}),
        pytest.raises(SystemCheckError) as error,
    ):
        call_command("check")
    message = str(error.value)
    assert "djira.E020" in message and "Ambiguous.has_object_permission" in message
    assert "has_object_permission(self, scope, instance)" in message
