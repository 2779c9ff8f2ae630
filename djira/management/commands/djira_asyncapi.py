"""``manage.py djira_asyncapi``: print the AsyncAPI 3.0 document of the served hooks.

Which hooks: see ``djira.management.served`` (``--asgi``, else ``settings.ASGI_APPLICATION``,
plus the hooks discovered from apps' ``hooks.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from djira.asyncapi import build_document
from djira.management.served import add_hook_arguments, hooks_for


class Command(BaseCommand):
    help = "Print the AsyncAPI 3.0 document (JSON) of the hooks this project serves."

    def add_arguments(self, parser: CommandParser) -> None:
        add_hook_arguments(parser)
        parser.add_argument(
            "--url", default="ws://localhost:8000", help="Where clients connect (ws:// or wss://)."
        )
        parser.add_argument("--title", default="djira realtime API", help="info.title")
        parser.add_argument("--api-version", default="1.0.0", help="info.version")
        parser.add_argument("--indent", type=int, default=2, help="JSON indentation (0: none).")
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        document = build_document(
            hooks_for(self, options),
            url=options["url"],
            title=options["title"],
            version=options["api_version"],
        )
        text = json.dumps(document, indent=options["indent"] or None, ensure_ascii=False)
        if options["output"]:
            output = Path(options["output"])
            output.parent.mkdir(parents=True, exist_ok=True)  # e.g. `-o docs/asyncapi.json`
            output.write_text(text + "\n", encoding="utf-8")
        else:
            self.stdout.write(text)
