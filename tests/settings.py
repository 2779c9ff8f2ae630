"""Settings for djira's tests; the live server subprocess uses them too."""

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

# One SQLite file shared by the test process and the uvicorn subprocess it starts.
_DB = os.environ.setdefault(
    "DJIRA_TEST_DB", str(Path(tempfile.gettempdir()) / f"djira-tests-{os.getpid()}.sqlite3")
)
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _DB,
        "TEST": {"NAME": _DB},
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"burst": "3/min"}}

DJIRA_SETTINGS = {
    "MIDDLEWARE_CLASSES": ["tests.testapp.middleware.HeaderMiddleware"],
    "MAX_PAYLOAD_SIZE": 20_000,
    "REDIS_URL": os.environ.get("DJIRA_REDIS_URL") or None,
}
if os.environ.get("DJIRA_TEST_STRICT") == "1":
    DJIRA_SETTINGS["PERMISSION_CLASSES"] = ["djira.permissions.IsAuthenticated"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"djira": {"handlers": ["console"], "level": "INFO"}},
}
