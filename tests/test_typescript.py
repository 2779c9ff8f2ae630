"""``manage.py djira_typescript``: types and a typed facade that ``tsc --strict`` holds to.

Each generated module is compiled with TypeScript (root node_modules) together with a file
of correct uses and a file of wrong uses (tests/typescript/): every wrong line carries
``// @ts-expect-error``, and tsc fails on a directive whose line compiles, so both "what
must compile" and "what must not" are checked. The facade runs in Chromium in
e2e/test_typescript_facade.py.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework import serializers

from djira.asyncapi import build_document
from djira.decorators import action
from djira.hooks import ModelAPIHook
from djira.management.commands.djira_typescript import Command
from djira.typescript import build_module
from tests.docblocks import blocks
from tests.testapp.models import Book
from tests.tsc import ROOT, compiles, generate_for_example, tsc

USES = Path(__file__).resolve().parent / "typescript"


def spec_of(module: str) -> dict[str, Any]:
    """The route table a generated module holds (JSON)."""
    text = module.split("export const spec: ApiSpec = ", 1)[1].split(";\n", 1)[0]
    result: dict[str, Any] = json.loads(text)
    return result


def with_uses(tmp_path: Path, module: str, *uses: str) -> Path:
    (tmp_path / "api.ts").write_text(module)
    for name in uses:
        shutil.copy(USES / name, tmp_path / name)
    return tmp_path


@pytest.fixture(scope="module")
def example_module() -> str:
    """The module for example/ (hooks discovered), generated as a developer would."""
    return generate_for_example()


@pytest.fixture(scope="module")
def hand_module(tmp_path_factory) -> str:
    """The module for tests/asgi.py's hooks, registered by hand on a Consumer."""
    target = tmp_path_factory.mktemp("hand") / "api.ts"
    call_command("djira_typescript", "--asgi", "tests.asgi:application", "-o", str(target))
    return target.read_text()


def test_the_example_module_compiles_with_its_correct_uses(example_module, tmp_path):
    compiles(with_uses(tmp_path, example_module, "example_uses.ts"), "api.ts", "example_uses.ts")


def test_wrong_uses_of_the_example_module_do_not_compile(example_module, tmp_path):
    compiles(with_uses(tmp_path, example_module, "example_wrong.ts"), "example_wrong.ts")


def test_an_expected_error_that_compiles_fails_the_check(example_module, tmp_path):
    # The check above cannot pass by accident: a right use marked wrong is reported.
    with_uses(tmp_path, example_module)
    (tmp_path / "right.ts").write_text(
        'import { createApi } from "./api";\n'
        "// @ts-expect-error\n"
        "void createApi().tasks.list({ query: { done: true } });\n"
    )
    result = tsc(tmp_path, "right.ts")
    assert result.returncode != 0
    assert "Unused '@ts-expect-error' directive" in result.stdout


def test_the_hand_registered_module_compiles_with_its_uses(hand_module, tmp_path):
    directory = with_uses(tmp_path, hand_module, "testapp_uses.ts", "testapp_wrong.ts")
    compiles(directory, "api.ts", "testapp_uses.ts", "testapp_wrong.ts")


def test_the_facade_has_every_route_of_the_asyncapi_document(hand_module):
    # One description, two renderings: every receive operation has a facade entry.
    from tests import asgi

    document = build_document(asgi.consumer.hooks)
    spec = spec_of(hand_module)
    for channel in document["channels"].values():
        hook = spec["hooks"][channel["address"]]
        sent = {
            (route.get("namespace"), route["action"])
            for member in hook.values()
            for route in ([member] if "action" in member else member.values())
        }
        for message in channel["messages"].values():
            payload = message.get("payload", {})
            if not message.get("name", "").endswith(".request"):
                continue
            verb = payload["properties"]["action"]["enum"][0]
            namespace = payload["properties"].get("namespace", {}).get("const")
            if verb != "UNSUBSCRIPTION":
                assert (namespace, verb) in sent, (channel["address"], namespace, verb)


# -- shapes: nested serializers, choices, nullable, read and write-only fields ------------


class Stamp(serializers.Serializer):
    by = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True)


class ShapedBookSerializer(serializers.ModelSerializer):
    stamp = Stamp(read_only=True)
    history = Stamp(many=True, read_only=True)
    colour = serializers.ChoiceField(choices=["red", "green"])
    secret = serializers.CharField(write_only=True)
    rating = serializers.IntegerField(allow_null=True, required=False)

    class Meta:
        model = Book
        fields = ["id", "title", "stamp", "history", "colour", "secret", "rating"]


class ShapedHook(ModelAPIHook):
    queryset = Book.objects.all()
    serializer_class = ShapedBookSerializer

    @action(actions=["POST"], serializer_class=Stamp)
    def sign(self, scope):
        return None


SHAPED_USES = """\
import { createApi, type ShapedBook, type ShapedBookInput } from "./api";
const book: ShapedBook = {
  id: 1, title: "t", colour: "red", rating: null,
  stamp: { by: "ann", at: null }, history: [{ by: "bob", at: "2026-01-01T00:00:00Z" }],
};
const input: ShapedBookInput = { title: "t", colour: "green", secret: "s" };
export async function uses() {
  const signed = await createApi().shelf.sign.post({ data: { by: "ann", at: null } });
  const by: string = signed.data.by;
  // @ts-expect-error: secret is write-only: never in a reply
  void book.secret;
  // @ts-expect-error: a colour is red or green
  const blue: ShapedBookInput = { title: "t", colour: "blue", secret: "s" };
  // @ts-expect-error: stamp is read-only: not in the input
  const stamped: ShapedBookInput = { title: "t", colour: "red", secret: "s", stamp: book.stamp };
  void [input, by, blue, stamped];
}
"""


def test_serializer_shapes_become_types(tmp_path):
    module = build_module({"shelf": ShapedHook})
    assert '  colour: "red" | "green";' in module
    assert "  rating: number | null;" in module  # every field of a reply is present
    assert "  stamp: {\n    by: string;\n    at: string | null;\n  };" in module
    with_uses(tmp_path, module)
    (tmp_path / "uses.ts").write_text(SHAPED_USES)
    compiles(tmp_path, "api.ts", "uses.ts")


def test_validators_embed_the_schemas(tmp_path):
    plain = build_module({"shelf": ShapedHook})
    checked = build_module({"shelf": ShapedHook}, validators=True)
    assert set(spec_of(plain)) == {"hooks"}
    spec = spec_of(checked)
    assert "ShapedBookInput" in spec["schemas"]
    assert spec["hooks"]["shelf"]["retrieve"]["reply"]["properties"]["status"] == {"const": 200}
    with_uses(tmp_path, checked)
    compiles(tmp_path, "api.ts")


def test_the_command_imports_the_client_from_where_it_is_told(tmp_path):
    target = tmp_path / "api.ts"
    call_command(
        "djira_typescript", "--no-asgi", "--client-module", "/static/djira/js/client.js",
        "-o", str(target),
    )  # fmt: skip
    assert '} from "/static/djira/js/client.js";' in target.read_text()


# -- docs/client.md -----------------------------------------------------------------------


def test_the_docs_samples_compile_against_the_example_module(example_module, tmp_path):
    samples = {b.args: b for b in blocks(ROOT / "docs" / "client.md") if b.tag == "typescript"}
    assert set(samples) == {"example", "wrong", "react"}
    with_uses(tmp_path, example_module)
    (tmp_path / "example.ts").write_text(samples["example"].code)
    (tmp_path / "wrong.ts").write_text(samples["wrong"].code)  # each line must fail
    (tmp_path / "react.tsx").write_text(samples["react"].code)
    # The npm package's README shows the same, briefly.
    (readme,) = [b for b in blocks(ROOT / "client" / "README.md") if "djira-client/react" in b.code]
    (tmp_path / "readme.tsx").write_text(readme.code)
    compiles(tmp_path, "api.ts", "example.ts", "wrong.ts", "react.tsx", "readme.tsx")


def test_the_docs_list_every_option_of_the_command():
    page = (ROOT / "docs" / "client.md").read_text().split("## Generated types", 1)[1]
    parser = Command().create_parser("manage.py", "djira_typescript")
    ours = {o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help")}
    ours -= {"--version", "-v", "--verbosity", "--settings", "--pythonpath", "--traceback"}
    ours -= {"--no-color", "--force-color", "--skip-checks"}
    documented = set(re.findall(r"`(--?[a-z][a-z-]*)`", page))
    assert ours <= documented, ours - documented


PRESENCE_USES = """\
import { createApi } from "./api";
createApi().rooms.subscribe({ pk: 1 }, (push) => {
  if (push.type === "join" || push.type === "leave") {
    const name: string | null = push.data.user.username;
    void name;
  } else {
    const title: string = push.data.title; // a Book
    // @ts-expect-error: a change push carries no user
    void push.data.user;
    void title;
  }
});
"""


def test_presence_observers_push_join_and_leave_with_a_user(tmp_path):
    from tests.observers.presence_hooks import RoomHook
    from tests.test_asyncapi import validate

    # The AsyncAPI document says the same, and the official parser accepts it.
    assert validate(build_document({"rooms": RoomHook}))["errors"] == []
    module = build_module({"rooms": RoomHook})
    assert '  type: "join";' in module and '  type: "leave";' in module
    with_uses(tmp_path, module)
    (tmp_path / "uses.ts").write_text(PRESENCE_USES)
    compiles(tmp_path, "api.ts", "uses.ts")
