"""``manage.py djira_typescript``: TypeScript types and a typed facade of the served hooks.

Which hooks: see ``djira.management.served`` (the same options as ``djira_asyncapi``, whose
document is built from the same description, ``djira.asyncapi.catalog``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from djira.management.served import add_hook_arguments, hooks_for
from djira.typescript import build_module


class Command(BaseCommand):
    help = "Write a TypeScript module: types of the served hooks and a typed facade."

    def add_arguments(self, parser: CommandParser) -> None:
        add_hook_arguments(parser)
        parser.add_argument(
            "--client-module",
            default="djira-client",
            help="Where the module imports the client from: 'djira-client' (npm, the "
            "default) or the URL of the shipped client.js.",
        )
        parser.add_argument(
            "--validators",
            action="store_true",
            help="Embed the JSON Schemas of replies and pushes, for createApi(client, "
            "{validate: true}).",
        )
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        text = build_module(
            hooks_for(self, options),
            client_module=options["client_module"],
            validators=options["validators"],
        )
        if options["output"]:
            output = Path(options["output"])
            output.parent.mkdir(parents=True, exist_ok=True)  # e.g. `-o src/api.ts`, no src/ yet
            output.write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
