"""Settings for djira's tests; the live server subprocess uses them too."""

import json
import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "djira-tests"
DEBUG = os.environ.get("DJIRA_TEST_DEBUG") == "1"
ALLOWED_HOSTS = ["*"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "djira.apps.DJiraConfig",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "static/"

# DJIRA_TEST_DATABASE picks the backend: "sqlite" (default) or "postgres" (a private server,
# see tests/_postgres.py). The live servers the tests start are subprocesses that inherit the
# environment, so they use the same database.
DATABASE = os.environ.get("DJIRA_TEST_DATABASE", "sqlite")
# Knobs for servers started with other connection settings (tests/test_database.py).
_CONN_MAX_AGE = int(os.environ.get("DJIRA_TEST_CONN_MAX_AGE", "0"))
_CONN_HEALTH_CHECKS = os.environ.get("DJIRA_TEST_CONN_HEALTH_CHECKS") == "1"
# Which process a PostgreSQL session belongs to (pg_stat_activity.application_name).
APPLICATION_NAME = f"djira-tests:{os.getpid()}"
if DATABASE == "postgres":
    from tests._postgres import USER, ensure_server

    _HOST, _PORT = ensure_server()
    _NAME = os.environ.get("DJIRA_TEST_PG_NAME", "djira_tests")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": _HOST,
            "PORT": _PORT,
            "USER": USER,
            # The test database is the one the servers use: no "test_" prefix.
            "NAME": _NAME,
            "TEST": {"NAME": _NAME},
            "CONN_MAX_AGE": _CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": _CONN_HEALTH_CHECKS,
            # A transaction left open by a server would block the flush between tests for
            # ever; with a lock timeout that test fails instead of hanging the suite.
            "OPTIONS": {
                "options": "-c lock_timeout=20000",
                "application_name": APPLICATION_NAME,
            },
        }
    }
elif DATABASE == "sqlite":
    # One SQLite file shared by the test process and the uvicorn subprocess it starts.
    _DB = os.environ.setdefault(
        "DJIRA_TEST_DB", str(Path(tempfile.gettempdir()) / f"djira-tests-{os.getpid()}.sqlite3")
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _DB,
            "TEST": {"NAME": _DB},
            # As docs/deployment.md advises for SQLite with several processes: WAL, so
            # readers (servers reading the outbox) never block the writer, and IMMEDIATE
            # transactions, so a writer waits its turn instead of failing on a lock upgrade.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "CONN_MAX_AGE": _CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": _CONN_HEALTH_CHECKS,
        }
    }
else:
    raise ValueError(f"DJIRA_TEST_DATABASE={DATABASE!r}: expected 'sqlite' or 'postgres'")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"burst": "3/min"}}

DJIRA_SETTINGS = {
    "MIDDLEWARE_CLASSES": ["tests.testapp.middleware.HeaderMiddleware"],
    "MAX_PAYLOAD_SIZE": 20_000,
    "REDIS_URL": os.environ.get("DJIRA_REDIS_URL") or None,
}
# Servers of one test run share the test database: only processes a test gave a Redis (or
# DJIRA_TEST_HEARTBEAT) find each other, so a console page shows its own server's traffic.
if not (os.environ.get("DJIRA_REDIS_URL") or os.environ.get("DJIRA_TEST_HEARTBEAT")):
    DJIRA_SETTINGS["HEARTBEAT_INTERVAL"] = None
if os.environ.get("DJIRA_TEST_WORKER_THREADS"):
    DJIRA_SETTINGS["WORKER_THREADS"] = int(os.environ["DJIRA_TEST_WORKER_THREADS"])
if os.environ.get("DJIRA_TEST_MAX_IN_FLIGHT"):
    _in_flight = os.environ["DJIRA_TEST_MAX_IN_FLIGHT"]
    DJIRA_SETTINGS["MAX_REQUESTS_IN_FLIGHT"] = None if _in_flight == "none" else int(_in_flight)
# The delivery backend: DJIRA_TEST_DELIVERY_BACKEND for one server (a test's choice), else
# DJIRA_TEST_SUITE_BACKEND for a whole run (`make test` runs tests/observers once more with
# "memory"), except in processes a test gave a Redis (they use the redis backend).
_backend = os.environ.get("DJIRA_TEST_DELIVERY_BACKEND")
if not _backend and not os.environ.get("DJIRA_REDIS_URL"):
    _backend = os.environ.get("DJIRA_TEST_SUITE_BACKEND")
if _backend:
    DJIRA_SETTINGS["DELIVERY_BACKEND"] = _backend
if os.environ.get("DJIRA_TEST_HISTORY_SIZE"):
    DJIRA_SETTINGS["HISTORY_SIZE"] = int(os.environ["DJIRA_TEST_HISTORY_SIZE"])
if os.environ.get("DJIRA_TEST_HISTORY_TTL"):
    DJIRA_SETTINGS["HISTORY_TTL"] = float(os.environ["DJIRA_TEST_HISTORY_TTL"])
if os.environ.get("DJIRA_TEST_NUM_PROXIES"):
    DJIRA_SETTINGS["NUM_PROXIES"] = int(os.environ["DJIRA_TEST_NUM_PROXIES"])
if os.environ.get("DJIRA_TEST_PERMISSIONS"):
    DJIRA_SETTINGS["PERMISSION_CLASSES"] = os.environ["DJIRA_TEST_PERMISSIONS"].split(",")
if os.environ.get("DJIRA_TEST_RECORD_RATE"):
    DJIRA_SETTINGS["TRAFFIC_RECORD_RATE"] = float(os.environ["DJIRA_TEST_RECORD_RATE"])
if os.environ.get("DJIRA_TEST_HEALTH_PATH"):
    _health = os.environ["DJIRA_TEST_HEALTH_PATH"]
    DJIRA_SETTINGS["HEALTH_PATH"] = None if _health == "none" else _health
if os.environ.get("DJIRA_TEST_STRICT") == "1":
    DJIRA_SETTINGS["PERMISSION_CLASSES"] = ["djira.permissions.IsAuthenticated"]
# Any other settings, as a JSON object (tests/observers/test_limits.py).
if os.environ.get("DJIRA_TEST_SETTINGS"):
    DJIRA_SETTINGS.update(json.loads(os.environ["DJIRA_TEST_SETTINGS"]))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"djira": {"handlers": ["console"], "level": "INFO"}},
}
