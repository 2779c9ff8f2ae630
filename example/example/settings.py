"""Settings of the djira example project (SQLite, in-memory Socket.IO manager by default)."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "djira-example-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    # First, before django.contrib.staticfiles: `manage.py runserver` is then djira's, and
    # serves Socket.IO as well as Django and static files.
    "djira.apps.DJiraConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "blog",
    "board",
    # Live admin pages' extras: the cards on the admin index (board/admin.py), and
    # DJIRA_SETTINGS["LIVE_ADMIN"] (every admin live) if turned on. After django.contrib.admin.
    "djira.admin.live",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "example.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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
ASGI_APPLICATION = "example.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJIRA_EXAMPLE_DB", str(BASE_DIR / "db.sqlite3")),
        # Several processes (servers, a shell, a worker) write the same file in the demo.
        # Write-ahead logging lets readers go on while one writes (the default journal
        # makes every read wait for a commit's fsync).
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # Keep connections between requests, as production sites do: djira recycles them
        # around each request's work the way Django's HTTP handler does.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
}
if os.environ.get("DJIRA_EXAMPLE_PG_PORT"):
    # PostgreSQL instead (the browser tests' second run: tests/_postgres.py's private server).
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DJIRA_EXAMPLE_PG_NAME", "postgres"),
        "USER": "postgres",
        "HOST": os.environ.get("DJIRA_EXAMPLE_PG_HOST", "127.0.0.1"),
        "PORT": os.environ["DJIRA_EXAMPLE_PG_PORT"],
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
USE_TZ = True
TIME_ZONE = "UTC"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "index"
LOGOUT_REDIRECT_URL = "login"

DJIRA_SETTINGS = {
    "PAGE_SIZE": 16,
    "REDIS_URL": os.environ.get("DJIRA_REDIS_URL") or None,
    # Pages on other origins allowed to connect (space-separated), e.g. a Vite dev server:
    # DJIRA_CORS_ALLOWED_ORIGINS="http://localhost:5173". None: this site's origin only.
    "CORS_ALLOWED_ORIGINS": os.environ.get("DJIRA_CORS_ALLOWED_ORIGINS", "").split() or None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"djira": {"handlers": ["console"], "level": "INFO"}},
}
