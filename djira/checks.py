"""System checks for djira's settings, run by ``manage.py check`` and at server start.

ASGI servers (uvicorn, daphne, hypercorn) run no system checks, so
``djira.asgi.get_asgi_application`` calls ``raise_on_errors()``: a misconfigured project
refuses to start instead of failing on the first connection. Every check carries the
``djira`` tag; the ids are listed in docs/settings.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from djira.settings import DEFAULTS

logger = logging.getLogger("djira")

TAG = "djira"

# The name to give pip for optional dependencies; follows ``[project] name`` in pyproject.
DISTRIBUTION = "djira-realtime"

# Settings holding a list of dotted paths, and those holding one (or ``None``).
PATH_LISTS = (
    "AUTHENTICATION_CLASSES",
    "PERMISSION_CLASSES",
    "MIDDLEWARE_CLASSES",
    "THROTTLE_CLASSES",
    "FILTER_BACKENDS",
)
SINGLE_PATHS = ("DEFAULT_PAGINATION_CLASS", "SOCKET_INSTANCE")

# A correct value per path setting, for hints.
PATH_EXAMPLES = {
    "AUTHENTICATION_CLASSES": "djira.authentication.TokenAuthentication",
    "PERMISSION_CLASSES": "djira.permissions.IsAuthenticated",
    "MIDDLEWARE_CLASSES": "mysite.middleware.TimingMiddleware",
    "THROTTLE_CLASSES": "rest_framework.throttling.AnonRateThrottle",
    "FILTER_BACKENDS": "django_filters.rest_framework.DjangoFilterBackend",
    "DEFAULT_PAGINATION_CLASS": "djira.pagination.PagePagination",
    "SOCKET_INSTANCE": "mysite.sockets.sio",
}

REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "redis+cluster://")

# Verbs that change data: served by these mixin methods, or by an @action accepting them.
WRITE_METHODS = ("create", "update", "partial_update", "destroy")
WRITE_ACTIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_backend(value: Any) -> bool:
    """A short name or the import string of a delivery backend class."""
    from django.core.exceptions import ImproperlyConfigured

    from djira.delivery import ALIASES
    from djira.delivery.backends import load_backend

    if not isinstance(value, str):
        return False
    try:
        load_backend(ALIASES.get(value, value))
    except ImproperlyConfigured:
        return False
    return True


def _optional_whole(value: Any) -> bool:
    """``None`` (no bound) or a whole number >= 1: the per-connection limits."""
    return value is None or (_is_int(value) and value >= 1)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


# Scalar settings: (what the value must be, test). ``bool`` is an ``int`` to Python, not here.
VALUE_RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "PAGE_SIZE": ("a whole number >= 1", lambda v: _is_int(v) and v >= 1),
    "MAX_PAGE_SIZE": ("a whole number >= 1", lambda v: _is_int(v) and v >= 1),
    "MAX_PAYLOAD_SIZE": ("a whole number of bytes >= 1", lambda v: _is_int(v) and v >= 1),
    "HISTORY_SIZE": ("a whole number >= 0", lambda v: _is_int(v) and v >= 0),
    "HISTORY_TTL": (
        "a number of seconds > 0",
        lambda v: (_is_int(v) or isinstance(v, float)) and v > 0,
    ),
    "IDEMPOTENCY_TTL": (
        "a number of seconds > 0",
        lambda v: (_is_int(v) or isinstance(v, float)) and v > 0,
    ),
    "IDEMPOTENCY_WAIT": (
        "a number of seconds >= 0",
        lambda v: (_is_int(v) or isinstance(v, float)) and v >= 0,
    ),
    "TRAFFIC_BUFFER_SIZE": ("a whole number >= 1", lambda v: _is_int(v) and v >= 1),
    "TRACE_BUFFER_SIZE": ("a whole number >= 1", lambda v: _is_int(v) and v >= 1),
    "TRAFFIC_RECORD_RATE": (
        "None or a number of requests a second > 0",
        lambda v: v is None or ((_is_int(v) or isinstance(v, float)) and v > 0),
    ),
    "INSPECTOR_ACT_AS": ("True or False", lambda v: isinstance(v, bool)),
    "HEARTBEAT_INTERVAL": (
        "None or a number of seconds > 0",
        lambda v: v is None or ((_is_int(v) or isinstance(v, float)) and v > 0),
    ),
    "WORKER_THREADS": ("None or a whole number >= 1", _optional_whole),
    "MAX_REQUESTS_IN_FLIGHT": (
        "None or a whole number >= 1",
        _optional_whole,
    ),
    "MAX_QUEUED_MESSAGES": (
        "None or a whole number >= 1",
        _optional_whole,
    ),
    "MAX_QUEUED_BYTES": (
        "None or a whole number of bytes >= 1",
        _optional_whole,
    ),
    "MAX_SUBSCRIPTIONS": (
        "None or a whole number >= 1",
        _optional_whole,
    ),
    "GC_FREEZE": ("True or False", lambda v: isinstance(v, bool)),
    "REUSE_SERIALIZER_FIELDS": ("True or False", lambda v: isinstance(v, bool)),
    "GC_THRESHOLD": (
        "None or 1 to 3 whole numbers >= 1, as gc.set_threshold() takes",
        lambda v: (
            v is None
            or (
                isinstance(v, list | tuple)
                and 1 <= len(v) <= 3
                and all(_is_int(i) and i >= 1 for i in v)
            )
        ),
    ),
    "NUM_PROXIES": ("None or a whole number >= 0", lambda v: v is None or (_is_int(v) and v >= 0)),
    "SOCKETIO_PATH": ("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip("/"))),
    "HEALTH_PATH": (
        "None or a non-empty string",
        lambda v: v is None or (isinstance(v, str) and bool(v.strip("/"))),
    ),
    "RECORD_TRAFFIC": ("True or False", lambda v: isinstance(v, bool)),
    "METRICS": ("True or False", lambda v: isinstance(v, bool)),
    "METRICS_TOKEN": (
        "None or a non-empty string",
        lambda v: v is None or (isinstance(v, str) and bool(v.strip())),
    ),
    "TRACING": ("True or False", lambda v: isinstance(v, bool)),
    "DELIVERY_BACKEND": (
        "None, 'database', 'redis', 'memory' or the import string of a "
        "djira.delivery.backends.Backend subclass",
        lambda v: v is None or _is_backend(v),
    ),
    "DELIVERY_POLL_INTERVAL": (
        "a number of seconds > 0",
        lambda v: (_is_int(v) or isinstance(v, float)) and v > 0,
    ),
    # A word without a letter or digit would match every key (djira.admin.redaction).
    "REDACT_KEYS": (
        "a list of strings, each with a letter or digit",
        lambda v: _is_str_list(v) and all(any(c.isalnum() for c in w) for w in v),
    ),
}


def _user_settings() -> dict[str, Any] | None:
    """``DJIRA_SETTINGS``, or ``None`` when it is not a dict (``djira.E001`` says so)."""
    user = getattr(settings, "DJIRA_SETTINGS", None) or {}
    return user if isinstance(user, dict) else None


def _value(user: dict[str, Any], key: str) -> Any:
    return user.get(key, DEFAULTS[key])


def _import(path: str) -> tuple[Any, str | None]:
    """The object at ``path``, or ``None`` and why it could not be imported."""
    try:
        return import_string(path), None
    except Exception as exc:  # a broken module fails with anything, not only ImportError
        return None, f"{type(exc).__name__}: {exc}"


@register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The shape of ``DJIRA_SETTINGS``: a dict of known keys; DRF installed."""
    errors: list[CheckMessage] = []
    user = _user_settings()
    if user is None:
        errors.append(
            Error(
                "DJIRA_SETTINGS must be a dict.",
                hint="Write DJIRA_SETTINGS = {'PAGE_SIZE': 25, ...} in your settings.",
                id="djira.E001",
            )
        )
        user = {}
    for key in user:
        if key not in DEFAULTS:
            errors.append(
                Warning(
                    f"Unknown DJIRA_SETTINGS key '{key}'.",
                    hint="Check its spelling against docs/settings.md.",
                    id="djira.W001",
                )
            )
    if "rest_framework" not in settings.INSTALLED_APPS:
        errors.append(
            Error(
                "djira needs 'rest_framework' in INSTALLED_APPS.",
                hint="Add 'rest_framework' to INSTALLED_APPS.",
                id="djira.E002",
            )
        )
    return errors


@register(TAG)
def check_import_strings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every dotted path imports; list settings are lists; the server is a ``DjiraServer``."""
    user = _user_settings()
    if user is None:
        return []
    errors: list[CheckMessage] = []
    paths: list[tuple[str, str]] = []
    for key in PATH_LISTS:
        value = _value(user, key)
        if not isinstance(value, list | tuple):
            errors.append(
                Error(
                    f"DJIRA_SETTINGS['{key}'] must be a list of dotted paths, "
                    f"not {type(value).__name__}.",
                    hint=f"Write ['{PATH_EXAMPLES[key]}'], in brackets even for one path.",
                    id="djira.E004",
                )
            )
            continue
        paths.extend((key, item) for item in value if isinstance(item, str))
    for key in SINGLE_PATHS:
        value = _value(user, key)
        if isinstance(value, str):
            paths.append((key, value))
        elif isinstance(value, list | tuple):
            errors.append(
                Error(
                    f"DJIRA_SETTINGS['{key}'] must be one dotted path (or None), not a list.",
                    hint=f"Write '{PATH_EXAMPLES[key]}'.",
                    id="djira.E004",
                )
            )
    for key, path in paths:
        obj, problem = _import(path)
        if problem is not None:
            errors.append(
                Error(
                    f"DJIRA_SETTINGS['{key}'] names '{path}', which cannot be imported "
                    f"({problem}).",
                    hint=f"Fix the dotted path: a module, then a name in it, "
                    f"e.g. '{PATH_EXAMPLES[key]}'.",
                    id="djira.E003",
                )
            )
        elif key == "SOCKET_INSTANCE":
            errors.extend(_check_server(obj, path))
    value = _value(user, "SOCKET_INSTANCE")
    if value is not None and not isinstance(value, str | list | tuple):
        errors.extend(_check_server(value, repr(value)))
    return errors


def _check_server(obj: Any, where: str) -> list[CheckMessage]:
    from djira.server import DjiraServer

    if isinstance(obj, DjiraServer):
        return []
    return [
        Error(
            f"DJIRA_SETTINGS['SOCKET_INSTANCE'] ({where}) is a {type(obj).__name__}, "
            "not a djira.server.DjiraServer: djira could not tell acknowledgements apart.",
            hint="Build the server with djira.server.create_server(), or leave "
            "SOCKET_INSTANCE out to let djira build it.",
            id="djira.E005",
        )
    ]


@register(TAG)
def check_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Types and ranges of the scalar settings (``PAGE_SIZE``, ``WORKER_THREADS``, ...)."""
    user = _user_settings()
    if user is None:
        return []
    errors: list[CheckMessage] = []
    for key, (expected, valid) in VALUE_RULES.items():
        value = _value(user, key)
        if not valid(value):
            errors.append(
                Error(
                    f"DJIRA_SETTINGS['{key}'] must be {expected}, "
                    f"not {value!r} ({type(value).__name__}).",
                    hint=f"Set {key} to e.g. {DEFAULTS[key]!r} (the default), or remove it.",
                    id="djira.E006",
                )
            )
    page, cap = _value(user, "PAGE_SIZE"), _value(user, "MAX_PAGE_SIZE")
    valid_sizes = all(VALUE_RULES[k][1](_value(user, k)) for k in ("PAGE_SIZE", "MAX_PAGE_SIZE"))
    if valid_sizes and page > cap:
        errors.append(
            Warning(
                f"DJIRA_SETTINGS['PAGE_SIZE'] ({page}) is larger than MAX_PAGE_SIZE ({cap}): "
                "a client gets more rows by default than it may ask for.",
                hint="Lower PAGE_SIZE or raise MAX_PAGE_SIZE.",
                id="djira.W004",
            )
        )
    return errors


@register(TAG)
def check_origins(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``CORS_ALLOWED_ORIGINS``: origin checking is what keeps other sites off sessions."""
    user = _user_settings()
    origins = None if user is None else _value(user, "CORS_ALLOWED_ORIGINS")
    if origins is None or callable(origins):
        return []
    # python-engineio compares with ``!= []``: only an empty *list* turns checking off.
    if origins == [] and isinstance(origins, list):
        return [
            Error(
                "DJIRA_SETTINGS['CORS_ALLOWED_ORIGINS'] is []: python-socketio then checks "
                "no origin at all, so any web site can open sockets with your users' "
                "session cookies (session authentication relies on the origin check).",
                hint="Use None for same-origin only, or list your front-end origins.",
                id="djira.E007",
            )
        ]
    items = [origins] if isinstance(origins, str) else origins
    if not _is_str_list(items):
        return [
            Error(
                "DJIRA_SETTINGS['CORS_ALLOWED_ORIGINS'] must be None, an origin or a list "
                f"of origins, not {origins!r}.",
                hint="Write e.g. ['https://app.example.com'].",
                id="djira.E008",
            )
        ]
    if "*" in items:
        return [
            Warning(
                f"DJIRA_SETTINGS['CORS_ALLOWED_ORIGINS'] is {origins!r}: any web site can "
                "open sockets with your users' session cookies (session authentication "
                "relies on the origin check).",
                hint="List your front-end origins instead of '*'.",
                id="djira.W002",
            )
        ]
    return []


@register(TAG)
def check_redis(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``REDIS_URL``: a URL python-socketio's Redis manager accepts, and redis installed."""
    user = _user_settings()
    url = None if user is None else _value(user, "REDIS_URL")
    if url is None or url == "":  # falsy means "no Redis" to djira.server
        return []
    if not isinstance(url, str) or not url.startswith(REDIS_SCHEMES):
        return [
            Error(
                f"DJIRA_SETTINGS['REDIS_URL'] is {url!r}, not a Redis URL.",
                hint="Write 'redis://host:6379/0' (or rediss:// for TLS, unix:// for a "
                "socket, redis+sentinel://host1:26379,host2:26379/0/<service> for Sentinel, "
                "redis+cluster://host1:6379,host2:6379 for a cluster), "
                "or None for a single process.",
                id="djira.E010",
            )
        ]
    from djira.delivery.redis_clients import is_sentinel, sentinel_service

    if is_sentinel(url) and sentinel_service(url) is None:
        return [
            Error(
                f"DJIRA_SETTINGS['REDIS_URL'] is {url!r}: a Sentinel URL without a service.",
                hint="Name the service Sentinel monitors after the database, e.g. "
                "'redis+sentinel://host1:26379,host2:26379/0/mymaster'.",
                id="djira.E010",
            )
        ]
    try:
        import redis  # noqa: F401
    except ImportError:
        return [
            Error(
                "DJIRA_SETTINGS['REDIS_URL'] is set but the 'redis' package is not installed.",
                hint=f"pip install '{DISTRIBUTION}[redis]', or set REDIS_URL to None.",
                id="djira.E009",
            )
        ]
    return []


@register(TAG)
def check_delivery(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``DELIVERY_BACKEND``: the redis backend needs ``REDIS_URL``."""
    from djira.delivery import ALIASES
    from djira.delivery.backends import load_backend

    user = _user_settings()
    if user is None:
        return []
    name = _value(user, "DELIVERY_BACKEND")
    if not isinstance(name, str) or not _is_backend(name) or _value(user, "REDIS_URL"):
        return []  # no backend named, or a wrong one (djira.E006), or REDIS_URL is set
    if load_backend(ALIASES.get(name, name)).kind != "redis":
        return []
    return [
        Error(
            f"DJIRA_SETTINGS['DELIVERY_BACKEND'] is {name!r} (Redis) but REDIS_URL is not set.",
            hint="Set REDIS_URL (e.g. 'redis://127.0.0.1:6379/0'), or use the 'database' "
            "backend (the default without REDIS_URL).",
            id="djira.E011",
        )
    ]


@register(TAG)
def check_open_writes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Hooks that change data while the default permission lets anyone in."""
    user = _user_settings()
    if user is None or not _allows_any(_value(user, "PERMISSION_CLASSES")):
        return []
    warnings: list[CheckMessage] = []
    for name, hook in sorted(_served_hooks(user).items()):
        verbs = _unguarded_writes(hook)
        if verbs:
            warnings.append(
                Warning(
                    f"Hook '{name}' changes data ({', '.join(verbs)}) and sets no "
                    "permission_classes, so the default AllowAny lets anyone do it.",
                    hint="Set DJIRA_SETTINGS['PERMISSION_CLASSES'] (e.g. "
                    "['djira.permissions.IsAuthenticated']) or the hook's "
                    "permission_classes; [AllowAny] on the hook makes it explicit.",
                    obj=f"{hook.__module__}.{hook.__qualname__}",
                    id="djira.W003",
                )
            )
    return warnings


def _allows_any(classes: Any) -> bool:
    """Whether the ``PERMISSION_CLASSES`` value grants everything (unimportable: unknown)."""
    from rest_framework.permissions import AllowAny as DRFAllowAny

    from djira.permissions import AllowAny

    if not isinstance(classes, list | tuple):
        return False
    resolved = []
    for cls in classes:
        if isinstance(cls, str):
            cls, problem = _import(cls)
            if problem is not None:
                return False  # djira.E003 reports the path; guessing here only adds noise
        resolved.append(cls)
    return all(cls in (AllowAny, DRFAllowAny) for cls in resolved)


def _served_hooks(user: dict[str, Any]) -> dict[str, type]:
    """Discovered hooks, and those registered on the configured server's consumer.

    Never builds a server: the default one is looked at only if something built it.
    """
    from djira.consumer import discover_hooks
    from djira.server import get_default_server

    hooks: dict[str, type] = dict(discover_hooks())
    value = _value(user, "SOCKET_INSTANCE")
    sio: Any = None
    if value is None:
        if get_default_server.cache_info().currsize:
            sio = get_default_server()
    elif isinstance(value, str):
        sio = _import(value)[0]
    else:
        sio = value
    consumer = getattr(sio, "djira_consumer", None)
    if consumer is not None:
        hooks.update(consumer.hooks)
    return hooks


def _unguarded_writes(hook: type) -> list[str]:
    """Write routes of ``hook`` that fall back to the default permission classes."""
    if getattr(hook, "permission_classes", None) is not None:
        return []
    verbs = [name for name in WRITE_METHODS if callable(getattr(hook, name, None))]
    routes: dict[str, Any] = getattr(hook, "get_routes", dict)()
    for name, route in sorted(routes.items()):
        writes = [a for a in route.actions if a in WRITE_ACTIONS]
        if writes and "permission_classes" not in route.kwargs:
            verbs.append(f"{'/'.join(writes)} {name}")
    return verbs


@register(TAG)
def check_permission_signatures(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Permission checks whose parameters fit none of the accepted shapes."""
    from djira.permissions import signature_errors

    user = _user_settings()
    if user is None:
        return []
    classes: list[Any] = []
    defaults = _value(user, "PERMISSION_CLASSES")
    if isinstance(defaults, list | tuple):
        classes.extend(_import(c)[0] if isinstance(c, str) else c for c in defaults)
    for hook in _served_hooks(user).values():
        classes.extend(getattr(hook, "permission_classes", None) or [])
        for route in getattr(hook, "get_routes", dict)().values():
            classes.extend(route.kwargs.get("permission_classes") or [])
    errors: list[CheckMessage] = []
    seen: set[Any] = set()
    while classes:
        cls = classes.pop()
        if not isinstance(cls, type) or cls in seen:
            continue
        seen.add(cls)
        classes.extend(getattr(cls, "operands", ()))  # the parts of ``A & B``, ``~A``
        errors.extend(
            Error(
                message,
                hint="Give the method one of the accepted signatures.",
                obj=f"{cls.__module__}.{cls.__qualname__}",
                id="djira.E020",
            )
            for message in signature_errors(cls)
        )
    return errors


def raise_on_errors() -> None:
    """Run djira's system checks; raise ``ImproperlyConfigured`` listing any error.

    For ASGI entry points, since ASGI servers run no system checks. Warnings are logged on
    ``djira``; checks silenced by ``SILENCED_SYSTEM_CHECKS`` are skipped.
    """
    issues = [issue for issue in run_checks(tags=[TAG]) if not issue.is_silenced()]
    for issue in issues:
        if not issue.is_serious():
            logger.warning("System check: %s", issue)
    errors = [issue for issue in issues if issue.is_serious()]
    if errors:
        listed = "\n".join(str(error) for error in errors)
        raise ImproperlyConfigured(f"djira's system checks found {len(errors)} error(s):\n{listed}")
