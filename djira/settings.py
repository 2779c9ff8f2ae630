"""Settings for djira, read from ``DJIRA_SETTINGS`` the way DRF reads ``REST_FRAMEWORK``.

    from djira.settings import jira_settings
    jira_settings.PAGE_SIZE

Values are resolved lazily, cached, and dropped when ``setting_changed`` fires, so
``override_settings(DJIRA_SETTINGS=...)`` works in tests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # The python-socketio server. ``None`` builds one from the settings below (djira.server).
    "SOCKET_INSTANCE": None,
    "AUTHENTICATION_CLASSES": [
        "djira.authentication.SessionAuthentication",
        "djira.authentication.TokenAuthentication",
    ],
    "PERMISSION_CLASSES": ["djira.permissions.AllowAny"],
    "MIDDLEWARE_CLASSES": [],
    "THROTTLE_CLASSES": [],
    "FILTER_BACKENDS": [],
    "DEFAULT_PAGINATION_CLASS": "djira.pagination.PagePagination",
    "PAGE_SIZE": 16,
    "MAX_PAGE_SIZE": 100,
    # Browser origins allowed to connect. ``None`` means same origin only (python-socketio's
    # default); a list names them; never use "*" in production.
    "CORS_ALLOWED_ORIGINS": None,
    # Largest accepted Socket.IO message in bytes; bigger ones close the connection.
    "MAX_PAYLOAD_SIZE": 1_000_000,
    # ``redis://...``: servers share rooms and emits through python-socketio's Redis manager.
    "REDIS_URL": None,
    # What carries pushes from a committed change to the sockets (djira.delivery):
    # "database" (the transactional outbox, any process that saves publishes), "redis" or
    # "memory" (one process). None: "redis" with REDIS_URL, "database" without.
    "DELIVERY_BACKEND": None,
    # Seconds between a server's reads of the database backend's outbox: the longest a push
    # saved by another process waits (PostgreSQL wakes servers at once with NOTIFY).
    "DELIVERY_POLL_INTERVAL": 0.25,
    # Pushes kept per room so a reconnecting client catches up (observers.md): how many,
    # and for how many seconds. HISTORY_SIZE 0 keeps none and numbers no push.
    "HISTORY_SIZE": 100,
    "HISTORY_TTL": 300,
    # Requests applied once (djira.idempotency): seconds a write's reply is kept under its
    # idempotencyKey, and how long a repeat of a key whose request still runs waits for it
    # before its 409 (0: at once, as Stripe).
    "IDEMPOTENCY_TTL": 3600,
    "IDEMPOTENCY_WAIT": 10.0,
    "SOCKETIO_PATH": "socket.io",
    # Liveness and readiness endpoints under this path (djira.health); None turns them off.
    "HEALTH_PATH": "djira/health",
    # Threads that run requests' sync work (ORM, permissions, serializers). Each holds its
    # own database connection; 1 runs everything on asgiref's single thread-sensitive thread.
    # None: 2 when the default database is SQLite, 4 otherwise (djira.sync.worker_threads).
    "WORKER_THREADS": None,
    # Requests one connection may have waiting for their replies; past it a request is
    # answered 429 at once, without running. None: no cap.
    "MAX_REQUESTS_IN_FLIGHT": 64,
    # Each socket's outgoing queue (djira.delivery.queues): past either bound, the socket is
    # closed as a slow consumer (it reconnects and catches up). None: no bound.
    "MAX_QUEUED_MESSAGES": 1000,
    "MAX_QUEUED_BYTES": 1_048_576,
    # Subscriptions one socket may hold; past it, subscribing answers 429. None: no cap.
    "MAX_SUBSCRIPTIONS": 100,
    # A ModelSerializer's fields are built once per class and copied for each request
    # (djira.serializer_fields) instead of rebuilt from the model every time.
    "REUSE_SERIALIZER_FIELDS": True,
    # The cyclic garbage collector, tuned once when the server starts (djira.runtime):
    # freeze what start-up loaded, and collect the young generation less often.
    "GC_FREEZE": True,
    "GC_THRESHOLD": (25_000, 10, 10),
    # Proxies in front of the server whose X-Forwarded-For (handshake headers) is trusted
    # to name the client, as DRF's NUM_PROXIES; None trusts none (the ASGI peer address).
    "NUM_PROXIES": None,
    # Prometheus metrics (djira.telemetry.metrics; needs prometheus_client), served by the
    # view djira.telemetry.views.metrics to staff users and to requests carrying
    # ``Authorization: Bearer <METRICS_TOKEN>``.
    "METRICS": False,
    "METRICS_TOKEN": None,
    # OpenTelemetry spans for handshakes, requests and pushes (djira.telemetry.tracing; needs
    # opentelemetry-api, and the SDK configured by the project to record anything).
    "TRACING": False,
    # Admin traffic recording (djira.admin).
    "RECORD_TRAFFIC": True,
    "TRAFFIC_BUFFER_SIZE": 1000,
    # Request traces kept by the admin's recorder while a console page watches (a ring buffer).
    "TRACE_BUFFER_SIZE": 200,
    # Requests a second that the recorder keeps in full (rows and trace) per process while a
    # page watches; the rest are counted only. None keeps every one.
    "TRAFFIC_RECORD_RATE": 100,
    # The inspector may act as another user (superusers only; djira.admin.actas).
    "INSPECTOR_ACT_AS": False,
    # Every ModelAdmin of admin.site live (djira.admin.live; needs "djira.admin.live" in
    # INSTALLED_APPS after django.contrib.admin). False: only admins with the mixin.
    "LIVE_ADMIN": False,
    "REDACT_KEYS": [],
    "HEARTBEAT_INTERVAL": 2.0,
}

#: Builds the process's server when ``SOCKET_INSTANCE`` is not set.
DEFAULT_SERVER = "djira.server.get_default_server"

# Settings whose values are dotted paths to import.
IMPORT_STRINGS = {
    "SOCKET_INSTANCE",
    "AUTHENTICATION_CLASSES",
    "PERMISSION_CLASSES",
    "MIDDLEWARE_CLASSES",
    "THROTTLE_CLASSES",
    "FILTER_BACKENDS",
    "DEFAULT_PAGINATION_CLASS",
}


def perform_import(value: Any, name: str) -> Any:
    """Import ``value`` if it is a dotted path, or each item of a list of them."""
    if isinstance(value, str):
        try:
            return import_string(value)
        except ImportError as exc:
            raise ImportError(
                f"Could not import '{value}' for DJIRA_SETTINGS['{name}']: {exc}"
            ) from exc
    if isinstance(value, list | tuple):
        return [perform_import(item, name) for item in value]
    return value


class JiraSettings:
    """Attribute access to ``DJIRA_SETTINGS`` with defaults and lazy imports."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults or DEFAULTS
        self._cached: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, "DJIRA_SETTINGS", None) or {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.defaults:
            raise AttributeError(f"Invalid djira setting: '{name}'")
        try:
            return self._cached[name]
        except KeyError:
            pass
        value = self.user_settings.get(name, self.defaults[name])
        if name == "SOCKET_INSTANCE" and value is None:
            # An import string, like every other pluggable value: djira.server imports
            # these settings, so settings never import it back.
            value = import_string(DEFAULT_SERVER)()
        elif name in IMPORT_STRINGS:
            value = perform_import(value, name)
        self._cached[name] = value
        return value

    def reload(self) -> None:
        self._cached.clear()


jira_settings = JiraSettings()


def reload_jira_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJIRA_SETTINGS":
        jira_settings.reload()


setting_changed.connect(reload_jira_settings)
