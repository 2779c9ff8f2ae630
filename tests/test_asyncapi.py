"""``manage.py djira_asyncapi``: a valid AsyncAPI 3.0 document of the served hooks.

Every document is checked by the official parser, ``@asyncapi/parser`` from npm
(scripts/validate-asyncapi.mjs), for the example project (hooks discovered from apps'
``hooks.py``) and for the test project (hooks registered by hand in tests/asgi.py).
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils.translation import gettext_lazy
from jsonschema import Draft7Validator
from rest_framework import serializers

from djira.asyncapi import build_document
from djira.asyncapi.schemas import schema_for
from djira.authentication import BaseAuthentication
from djira.decorators import action
from djira.hooks import APIHook, ModelAPIHook
from djira.management.commands.djira_asyncapi import Command
from djira.server import create_server
from tests.docblocks import blocks
from tests.testapp import hooks
from tests.testapp.models import Book

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = ROOT / "scripts" / "validate-asyncapi.mjs"


def manage(*args: str, cwd: Path, settings: str | None) -> dict[str, Any]:
    """Run the command in a fresh process, as a developer would, and parse what it prints."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    if settings:
        env["DJANGO_SETTINGS_MODULE"] = settings
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    argv = [sys.executable, *(["manage.py"] if settings is None else ["-m", "django"]), *args]
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def validate(document: dict[str, Any]) -> dict[str, Any]:
    """The parser's report: ``{"valid", "errors", "warnings", "channels", ...}``."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (make test installs it)")
    assert (ROOT / "node_modules" / "@asyncapi" / "parser").is_dir(), "run `npm install` first"
    result = subprocess.run(
        ["node", str(VALIDATOR), "-"],
        input=json.dumps(document),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert (result.returncode == 0) == report["valid"]
    return report


@pytest.fixture(scope="module")
def example_document() -> dict[str, Any]:
    return manage("djira_asyncapi", cwd=ROOT / "example", settings=None)


@pytest.fixture(scope="module")
def hand_document() -> dict[str, Any]:
    return manage(
        "djira_asyncapi", "--asgi", "tests.asgi:application", cwd=ROOT, settings="tests.settings"
    )


def operation(document: dict[str, Any], key: str) -> dict[str, Any]:
    assert key in document["operations"], sorted(document["operations"])
    return document["operations"][key]


def message(document: dict[str, Any], channel: str, key: str) -> dict[str, Any]:
    messages = document["channels"][channel]["messages"]
    assert key in messages, sorted(messages)
    return messages[key]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow one local ``$ref``."""
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


# -- the example project: discovered hooks ------------------------------------------------


def test_the_example_document_is_valid(example_document):
    report = validate(example_document)
    assert report["errors"] == []
    # Not even a style warning, but that AsyncAPI 3.1 exists (djira writes 3.0.0).
    assert [w["code"] for w in report["warnings"]] == ["asyncapi-latest-version"]
    assert report["version"] == "3.0.0"
    # The example's four hooks, and the live admin's (its TaskAdmin is live).
    assert report["channels"] == len(example_document["channels"]) == 5


def test_the_example_document_has_every_hook_route_and_verb(example_document):
    doc = example_document
    assert {c["address"] for c in doc["channels"].values()} == {
        "articles",
        "users",
        "projects",
        "tasks",
        "djira-admin-live",
    }
    crud = ["list", "create", "retrieve", "update", "partial_update", "destroy"]
    for name in crud:
        assert operation(doc, f"articles.{name}")["action"] == "receive"
    # A read-only hook serves list and retrieve only; its namespaces follow.
    users = sorted(k for k in doc["operations"] if k.startswith("users."))
    assert users == ["users.list", "users.me.get", "users.retrieve", "users.set_password.post"]
    assert operation(doc, "tasks.complete.post")["summary"].startswith("Mark the task")
    subscribe = message(doc, "articles", "subscribe.subscription.request")["payload"]
    assert subscribe["properties"]["namespace"]["const"] == "subscribe"
    assert "SUBSCRIPTION" in subscribe["properties"]["action"]["enum"]


def test_the_example_payloads_come_from_the_serializers(example_document):
    doc = example_document
    create = message(doc, "articles", "create.request")["payload"]
    data_in = resolve(doc, create["properties"]["data"])
    assert data_in["required"] == ["title"]
    assert "id" not in data_in["properties"]  # read-only: never sent
    reply = message(doc, "articles", "create.reply")["payload"]["properties"]
    assert reply["status"] == {"const": 201}
    data_out = resolve(doc, reply["data"])
    assert {"id", "title", "author_id", "created"} <= set(data_out["required"])
    # A PATCH requires nothing; a related pk is the related model's (integer) pk.
    patch = message(doc, "tasks", "partial_update.request")["payload"]["properties"]["data"]
    assert "required" not in resolve(doc, patch)
    task_in = resolve(doc, message(doc, "tasks", "create.request")["payload"]["properties"]["data"])
    assert task_in["properties"]["project"]["type"] == "integer"
    assert task_in["properties"]["priority"]["enum"] == [0, 1, 2]
    # A paginated list, and what its query honours.
    listing = message(doc, "tasks", "list.reply")["payload"]["properties"]["data"]
    assert set(listing["required"]) == {"count", "next", "previous", "results"}
    query = message(doc, "tasks", "list.request")["payload"]["properties"]["query"]["properties"]
    assert {"project", "done", "priority", "search", "ordering", "page", "page_size"} <= set(query)
    # Django's username pattern, in ECMAScript.
    username = resolve(doc, {"$ref": "#/components/schemas/User"})["properties"]["username"]
    assert username["pattern"].endswith("$") and "\\z" not in username["pattern"]


def test_the_example_pushes_errors_and_security(example_document):
    doc = example_document
    push = operation(doc, "articles.article_changes.push")
    assert push["action"] == "send"
    payload = message(doc, "articles", "article_changes.push")["payload"]["properties"]
    assert payload["type"]["enum"] == ["create", "update", "delete"]
    assert payload["namespace"]["enum"] == ["subscribe"]
    assert payload["room"]["examples"] == ["article", "article__1"]
    assert resolve(doc, payload["data"]) is doc["components"]["schemas"]["Article"]
    # A custom rooms hook is named; one observer is one push however many names it has.
    tasks = message(doc, "tasks", "task_changes.push")["payload"]["properties"]
    assert "task_rooms" in tasks["room"]["description"]
    assert [k for k in doc["operations"] if k.endswith(".push")] == [
        "articles.article_changes.push",
        "projects.project_changes.push",
        "tasks.task_changes.push",
    ]
    # Every request may fail: its replies include the error envelope.
    replies = operation(doc, "users.me.get")["reply"]["messages"]
    assert {"$ref": "#/channels/users/messages/error"} in replies
    error = resolve(doc, resolve(doc, message(doc, "users", "error"))["payload"])
    assert {401, 403, 404, 405, 429, 500} <= set(error["properties"]["status"]["enum"])
    schemes = doc["components"]["securitySchemes"]
    assert schemes["TokenAuthentication"]["name"] == "Authorization"
    assert schemes["SessionAuthentication"] == {
        "type": "httpApiKey",
        "in": "cookie",
        "name": "sessionid",
        "description": "The Django session cookie sent with the handshake.",
    }
    assert doc["servers"]["djira"]["pathname"] == "/socket.io/"


def test_the_validator_rejects_broken_documents(example_document):
    broken = copy.deepcopy(example_document)
    broken["operations"]["articles.list"]["action"] = "publish"  # AsyncAPI 2's word
    del broken["info"]
    report = validate(broken)
    assert not report["valid"]
    assert {e["path"] for e in report["errors"]} == {"", "operations/articles.list/action"}
    # A message of another channel: the parser checks what references mean, not just shapes.
    astray = copy.deepcopy(example_document)
    astray["operations"]["articles.list"]["messages"] = [
        {"$ref": "#/channels/users/messages/list.request"}
    ]
    codes = {e["code"] for e in validate(astray)["errors"]}
    assert codes == {"asyncapi3-operation-messages-from-referred-channel"}


# -- the test project: hooks registered by hand in tests/asgi.py --------------------------


def test_hooks_registered_by_hand_are_described_and_valid(hand_document):
    doc = hand_document
    report = validate(doc)
    assert report["errors"] == []
    assert [w["code"] for w in report["warnings"]] == ["asyncapi-latest-version"]
    addresses = {c["address"] for c in doc["channels"].values()}
    # Registered by hand (no ``event``), and discovered through ``event`` as well.
    assert {"books", "readonly", "tools", "private", "observed", "observed_users"} <= addresses
    both = message(doc, "books", "echo-both.patch.request")["payload"]["properties"]
    assert both["namespace"]["const"] == "echo-both"
    assert operation(doc, "books.admin_only.get")["x-djira-permissions"] == ["IsAdminUser"]
    assert sorted(k for k in doc["operations"] if k.startswith("tools.")) == [
        "tools.async_unencodable.get",
        "tools.route.get",
        "tools.route.post",
        "tools.slow.get",
        "tools.unencodable.get",
    ]


def test_hand_registered_lists_follow_their_pagination(hand_document):
    doc = hand_document
    query = message(doc, "readonly", "list.request")["payload"]["properties"]["query"]
    assert {"limit", "offset"} <= set(query["properties"])
    private = message(doc, "private", "list.reply")["payload"]["properties"]["data"]
    assert private["type"] == "array"  # pagination_class = None


def test_signal_observers_push_their_type(hand_document):
    payload = message(hand_document, "observed", "flags.push")["payload"]["properties"]
    assert payload["type"]["enum"] == ["create", "update"]
    assert payload["room"] == {"type": "string", "const": "flags"}
    assert "subscribe_flags" in payload["namespace"]["enum"]


# -- in this process ----------------------------------------------------------------------


class NoteSerializer(serializers.Serializer):
    title = serializers.CharField(allow_null=True)
    secret = serializers.CharField(write_only=True)
    size = serializers.SerializerMethodField()

    def get_size(self, obj: Any) -> int:
        return 0


class BookSerializer(serializers.ModelSerializer):  # a second "BookSerializer"
    class Meta:
        model = Book
        fields = ["id"]


class BookInputSerializer(serializers.Serializer):  # "BookInput", like Book's input shape
    isbn = serializers.CharField()


class ErrorReplySerializer(serializers.Serializer):  # like the shared "ErrorReply"
    code = serializers.IntegerField()


class ClashHook(APIHook):
    @action(actions=["POST"], serializer_class=BookInputSerializer)
    def isbn(self) -> None:
        return None

    @action(actions=["POST"], serializer_class=ErrorReplySerializer)
    def code(self) -> None:
        return None


class NoteHook(ModelAPIHook):
    """Notes, registered under a name that is no component key."""

    queryset = Book.objects.all()
    serializer_class = NoteSerializer


class OddHook(APIHook):
    """Namespaces that are no component keys, and collide once made keys."""

    @action(namespace="a/b")
    def slash(self) -> None:
        return None

    @action(namespace="a b")
    def space(self) -> None:
        return None


class OtherBookHook(ModelAPIHook):
    queryset = Book.objects.all()
    serializer_class = BookSerializer


def test_serializer_shapes():
    output = schema_for(NoteSerializer, "output")
    assert output["properties"]["title"]["type"] == ["string", "null"]
    assert "secret" not in output["properties"] and "size" in output["required"]
    given = schema_for(NoteSerializer, "input")
    assert set(given["properties"]) == {"title", "secret"}
    assert given["required"] == ["title", "secret"]


class PriceSerializer(serializers.Serializer):
    price = serializers.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1.50"))
    since = serializers.DateField(default=date(2020, 1, 1))
    kind = serializers.ChoiceField(choices=[("a", gettext_lazy("A"))], help_text=gettext_lazy("K"))


def test_field_values_become_json():
    schema = schema_for(PriceSerializer, "input")
    json.dumps(schema)  # no Decimal, date or lazy string left
    assert schema["properties"]["price"]["default"] == "1.50"
    assert schema["properties"]["since"]["default"] == "2020-01-01"
    assert schema["properties"]["kind"] == {"enum": ["a"], "type": "string", "description": "K"}


def test_names_and_serializers_that_collide_stay_apart():
    document = build_document(
        {
            "my notes/1": NoteHook,
            "books": hooks.BookAPIHook,
            "other": OtherBookHook,
            "odd": OddHook,
            "clash": ClashHook,
        },
        url="https://api.example.com",
    )
    assert document["channels"]["my_notes_1"]["address"] == "my notes/1"
    assert document["servers"]["djira"]["host"] == "api.example.com"
    assert document["servers"]["djira"]["protocol"] == "wss"
    schemas = document["components"]["schemas"]
    assert {"Book", "Book2", "BookInput", "Note", "BookInput2Input", "ErrorReply2Input"} <= set(
        schemas
    )
    assert set(schemas["BookInput"]["properties"]) == {"title", "author", "year"}
    assert "status" in schemas["ErrorReply"]["properties"]
    odd = document["channels"]["odd"]["messages"]
    assert odd["a_b.get.request"]["payload"]["properties"]["namespace"]["const"] == "a/b"
    assert odd["a_b.get.request_2"]["payload"]["properties"]["namespace"]["const"] == "a b"
    assert {"odd.a_b.get", "odd.a_b.get_2"} <= set(document["operations"])
    assert validate(document)["errors"] == []


def test_the_command_writes_a_file(tmp_path):
    target = tmp_path / "asyncapi.json"
    call_command("djira_asyncapi", "--no-asgi", "--title", "Shop", "-o", str(target))
    document = json.loads(target.read_text())
    assert document["info"]["title"] == "Shop"
    assert "observed" in {c["address"] for c in document["channels"].values()}


def test_without_an_asgi_application_the_command_says_what_it_leaves_out(settings):
    # A server of its own: no consumer another test left on the default one.
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": create_server()}
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("djira_asyncapi", indent=0, stdout=stdout, stderr=stderr)  # tests.settings
    assert "--asgi mysite.asgi:application" in stderr.getvalue()
    addresses = {c["address"] for c in json.loads(stdout.getvalue())["channels"].values()}
    assert "observed" in addresses and "books" not in addresses  # books: by hand only
    quiet = io.StringIO()
    call_command("djira_asyncapi", "--no-asgi", stdout=io.StringIO(), stderr=quiet)
    assert quiet.getvalue() == ""


class JWTAuthentication(BaseAuthentication):
    """docs/asyncapi.md's example of a class that describes itself."""

    asyncapi_security_scheme = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}

    def authenticate(self, scope: Any) -> None:
        return None


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(write_only=True, min_length=8)


class AccountHook(APIHook):
    @action(actions=["POST"], serializer_class=PasswordSerializer)
    def set_password(self, scope: Any) -> None:
        """Change the password."""

    @action(actions=["GET"])
    def anything(self, scope: Any) -> None:
        """Returns whatever it likes."""


def test_custom_authentication_and_declared_action_serializers(settings):
    settings.DJIRA_SETTINGS = {
        **settings.DJIRA_SETTINGS,
        "AUTHENTICATION_CLASSES": [
            "djira.authentication.TokenAuthentication",
            "tests.test_asyncapi.JWTAuthentication",
        ],
    }
    document = build_document({"account": AccountHook})
    schemes = document["components"]["securitySchemes"]
    assert list(schemes) == ["TokenAuthentication", "JWTAuthentication"]
    assert schemes["JWTAuthentication"]["bearerFormat"] == "JWT"
    assert "SessionAuthentication" not in schemes
    messages = document["channels"]["account"]["messages"]
    data = messages["set_password.post.request"]["payload"]["properties"]["data"]
    assert document["components"]["schemas"][data["$ref"].rpartition("/")[2]] == {
        "type": "object",
        "properties": {"password": {"type": "string", "minLength": 8}},
        "required": ["password"],
    }
    assert messages["anything.get.reply"]["payload"]["properties"]["data"] == {
        "description": "Any JSON value."
    }
    assert document["operations"]["account.set_password.post"]["summary"] == (
        "Change the password."
    )
    assert validate(document)["errors"] == []


def test_the_docs_page_samples_compile():
    samples = [b for b in blocks(ROOT / "docs" / "asyncapi.md") if b.lang == "python"]
    assert len(samples) == 2
    for block in samples:
        compile(textwrap.dedent(block.code), block.where, "exec")


def test_the_docs_page_lists_every_option_of_the_command():
    page = (ROOT / "docs" / "asyncapi.md").read_text()
    parser = Command().create_parser("manage.py", "djira_asyncapi")
    ours = {
        opt
        for a in parser._actions
        for opt in a.option_strings
        if a.dest in {"asgi", "no_asgi", "url", "title", "api_version", "indent", "output"}
    }
    documented = set(re.findall(r"`(--?[a-z][a-z-]*)`", page))
    assert ours <= documented, ours - documented


# -- the document against real traffic ----------------------------------------------------


def conforms(document: dict[str, Any], channel: str, key: str, payload: Any) -> None:
    """Assert that ``payload`` is valid for the message ``key`` of ``channel``."""
    pointer = f"#/channels/{channel}/messages/{key}"
    declared = document["channels"][channel]["messages"][key]
    if "$ref" in declared:  # a shared message (the error envelope)
        pointer = declared["$ref"]
    # The whole document as the root schema, so that its local $refs resolve.
    schema = {**document, "$ref": f"{pointer}/payload"}
    errors = [e.message for e in Draft7Validator(schema).iter_errors(payload)]
    assert errors == [], f"{channel} {key}: {payload!r}"


@pytest.mark.usefixtures("db_")
async def test_real_requests_replies_and_pushes_match_the_document(hand_document, connect, token):
    """What the test server really sends, checked against what the document says."""
    doc = hand_document
    client = await connect(token=token)

    async def call(hook: str, key: str, **request: Any) -> dict[str, Any]:
        payload = {"requestId": key, **request}
        conforms(doc, hook, f"{key}.request", payload)
        return await client.send(hook, payload)

    reply = await call(
        "observed", "subscribe.subscription", namespace="subscribe", action="SUBSCRIPTION"
    )
    conforms(doc, "observed", "subscribe.subscription.reply", reply)
    created = await call("books", "create", action="POST", data={"title": "Dune", "year": 1965})
    conforms(doc, "books", "create.reply", created)
    pk = created["data"]["id"]
    for key, request in [
        ("list", {}),
        ("retrieve", {"pk": pk}),
        ("partial_update", {"action": "PATCH", "pk": pk, "data": {"year": 1966}}),
        ("update", {"action": "PUT", "pk": pk, "data": {"title": "Dune", "year": 1965}}),
        ("destroy", {"action": "DELETE", "pk": pk}),
    ]:
        reply = await call("books", key, **request)
        assert reply["status"] < 300, reply
        conforms(doc, "books", f"{key}.reply", reply)
    reply = await call("readonly", "list", query={"limit": 1, "offset": 0})
    conforms(doc, "readonly", "list.reply", reply)
    reply = await call("books", "echo-both.patch", namespace="echo-both", action="PATCH", data=[1])
    conforms(doc, "books", "echo-both.patch.reply", reply)
    # Errors: field errors (400), a missing object (404), a verb the route refuses (405).
    for request in [
        {"action": "POST", "data": {"year": -1}},
        {"pk": 999999},
        {"namespace": "count", "action": "POST"},
    ]:
        reply = await client.send("books", request)
        assert reply["status"] in (400, 404, 405), reply
        conforms(doc, "books", "error", reply)
    # A push: the book created reaches the subscription made above.
    await call("observed", "create", action="POST", data={"title": "Emma"})
    push = await client.receive("observed", match=lambda p: p.get("type") == "create")
    assert push["room"] == "book"  # the room of the ``books`` observer joined above
    conforms(doc, "observed", "books.push", push)
