"""The hooks a project serves, as its server would: shared by the describing commands.

Hooks registered by hand live in the project's ASGI module (``consumer.register(...)`` in
``asgi.py``), so it is imported first, as a server would: ``--asgi``, else
``settings.ASGI_APPLICATION``. Hooks discovered from apps' ``hooks.py`` are always included.
``manage.py djira_asyncapi`` and ``manage.py djira_typescript`` take the same options.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from djira.base import APIHook
from djira.consumer import Consumer, discover_hooks
from djira.server import DjiraServer
from djira.settings import jira_settings


def import_attribute(path: str) -> Any:
    """``module:attr``, or a dotted path as in ``settings.ASGI_APPLICATION``."""
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    try:
        return getattr(import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise CommandError(
            f"Cannot load the ASGI application {path!r} ('module:attr' or 'module.attr'): {exc}"
        ) from exc


def find_consumer(app: Any) -> Consumer | None:
    """The consumer behind an ASGI app from ``djira.asgi.get_asgi_application()``.

    Follows the wrappers (``FrameGuard.app``, python-socketio's ``ASGIApp.engineio_server``)
    down to the ``DjiraServer``; a ``Consumer`` or a server may be named directly too.
    """
    seen: set[int] = set()
    while app is not None and id(app) not in seen:
        seen.add(id(app))
        if isinstance(app, Consumer):
            return app
        if isinstance(app, DjiraServer):
            return app.djira_consumer
        app = getattr(app, "app", None) or getattr(app, "engineio_server", None)
    return None


def served_hooks(asgi: str | None) -> dict[str, type[APIHook]]:
    """What the server would serve: the ASGI module's consumer, plus discovered hooks."""
    consumer = find_consumer(import_attribute(asgi)) if asgi else None
    if consumer is None:
        consumer = getattr(jira_settings.SOCKET_INSTANCE, "djira_consumer", None)
    hooks = dict(consumer.hooks) if consumer is not None else {}
    # As get_asgi_application(): a name registered by hand wins over a discovered one.
    for name, hook_class in discover_hooks().items():
        hooks.setdefault(name, hook_class)
    return hooks


def add_hook_arguments(parser: CommandParser) -> None:
    """``--asgi`` and ``--no-asgi``: where hooks registered by hand come from."""
    parser.add_argument(
        "--asgi",
        help="The ASGI application that registers hooks by hand, 'module:attr' or a "
        "dotted path (default: settings.ASGI_APPLICATION, if set).",
    )
    parser.add_argument(
        "--no-asgi",
        action="store_true",
        help="Do not import the ASGI application: describe only discovered hooks.",
    )


def hooks_for(command: BaseCommand, options: dict[str, Any]) -> dict[str, type[APIHook]]:
    """The hooks the options of :func:`add_hook_arguments` name; warns on ``command.stderr``."""
    asgi = None if options["no_asgi"] else options["asgi"]
    if asgi is None and not options["no_asgi"]:
        asgi = getattr(settings, "ASGI_APPLICATION", None)
        if asgi is None:
            # Hooks registered by hand would be missing without a word: say so.
            command.stderr.write(
                "settings.ASGI_APPLICATION is not set: describing the discovered hooks "
                "only. Pass --asgi mysite.asgi:application to include hooks registered "
                "by hand, or --no-asgi to silence this."
            )
    return served_hooks(asgi)
