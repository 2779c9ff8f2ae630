"""System checks: each mistake is reported with its id, the setting and the fix, at
``manage.py check`` and when the ASGI application is built."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import socketio
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django_htmx.middleware import HtmxMiddleware

from djira import checks
from djira.admin.checks import check_console
from djira.asgi import get_asgi_application
from djira.consumer import Consumer
from djira.decorators import action
from djira.hooks import APIHook
from djira.server import create_server
from tests.conftest import ROOT
from tests.testapp.hooks import (
    BookAPIHook,
    PrivateBookAPIHook,
    ReadOnlyBookAPIHook,
    ToolsAPIHook,
)

# A python-socketio server that is not a DjiraServer (SOCKET_INSTANCE must be one).
PLAIN_SERVER = socketio.AsyncServer(async_mode="asgi")


def ids(messages):
    return [m.id for m in messages]


def djira_settings(**values):
    return override_settings(DJIRA_SETTINGS=values)


# -- dotted paths ---------------------------------------------------------------------------


def test_a_typo_in_a_dotted_path_is_an_error_naming_the_path_and_the_key():
    with djira_settings(AUTHENTICATION_CLASSES=["jira.authentication.TokenAuthentication"]):
        [error] = checks.check_import_strings()
    assert error.id == "djira.E003"
    assert "'jira.authentication.TokenAuthentication'" in error.msg
    assert "AUTHENTICATION_CLASSES" in error.msg
    assert "'djira.authentication.TokenAuthentication'" in error.hint


@pytest.mark.parametrize("key", checks.PATH_LISTS)
def test_every_path_list_is_imported(key):
    with djira_settings(**{key: ["djira.permissions.NoSuchClass"]}):
        [error] = checks.check_import_strings()
    assert (error.id, key in error.msg) == ("djira.E003", True)
    assert "NoSuchClass" in error.msg


@pytest.mark.parametrize("key", checks.SINGLE_PATHS)
def test_every_single_path_is_imported(key):
    with djira_settings(**{key: "nowhere.module.thing"}):
        [error] = checks.check_import_strings()
    assert (error.id, key in error.msg) == ("djira.E003", True)


def test_a_string_where_a_list_of_paths_belongs_is_an_error():
    with djira_settings(PERMISSION_CLASSES="djira.permissions.IsAuthenticated"):
        [error] = checks.check_import_strings()
    assert error.id == "djira.E004"
    assert "PERMISSION_CLASSES" in error.msg


def test_socket_instance_must_be_a_djira_server():
    with djira_settings(SOCKET_INSTANCE="tests.test_checks.PLAIN_SERVER"):
        [error] = checks.check_import_strings()
    assert error.id == "djira.E005"
    assert "create_server()" in error.hint
    with djira_settings(SOCKET_INSTANCE=create_server()):
        assert checks.check_import_strings() == []


def test_the_default_paths_import():
    with djira_settings():
        assert checks.check_import_strings() == []


# -- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PAGE_SIZE", "ten"),
        ("PAGE_SIZE", 0),
        ("PAGE_SIZE", True),
        ("MAX_PAGE_SIZE", 0),
        ("MAX_PAYLOAD_SIZE", "1mb"),
        ("MAX_PAYLOAD_SIZE", -1),
        ("TRAFFIC_BUFFER_SIZE", 0),
        ("HEARTBEAT_INTERVAL", 0),
        ("HEARTBEAT_INTERVAL", "2"),
        ("WORKER_THREADS", 0),
        ("WORKER_THREADS", 2.5),
        ("MAX_REQUESTS_IN_FLIGHT", 0),
        ("MAX_REQUESTS_IN_FLIGHT", "64"),
        ("MAX_REQUESTS_IN_FLIGHT", True),
        ("GC_FREEZE", "yes"),
        ("GC_THRESHOLD", "10000"),
        ("GC_THRESHOLD", (0, 10, 10)),
        ("GC_THRESHOLD", (1, 2, 3, 4)),
        ("GC_THRESHOLD", ()),
        ("NUM_PROXIES", -1),
        ("NUM_PROXIES", "1"),
        ("SOCKETIO_PATH", ""),
        ("HEALTH_PATH", "/"),
        ("HEALTH_PATH", False),
        ("RECORD_TRAFFIC", "yes"),
        ("REDACT_KEYS", "password"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_setting(key, value):
    with djira_settings(**{key: value}):
        [error] = checks.check_values()
    assert error.id == "djira.E006"
    assert f"['{key}']" in error.msg and repr(value) in error.msg
    assert key in error.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("WORKER_THREADS", None),
        ("WORKER_THREADS", 1),
        ("WORKER_THREADS", 16),
        ("MAX_REQUESTS_IN_FLIGHT", None),
        ("MAX_REQUESTS_IN_FLIGHT", 1),
        ("GC_FREEZE", False),
        ("GC_THRESHOLD", None),
        ("GC_THRESHOLD", [50_000]),
        ("NUM_PROXIES", None),
        ("NUM_PROXIES", 0),
        ("NUM_PROXIES", 2),
        ("HEARTBEAT_INTERVAL", 0.5),
        ("PAGE_SIZE", 100),
        ("HEALTH_PATH", None),
        ("HEALTH_PATH", "ops/health"),
    ],
)
def test_good_values_pass(key, value):
    with djira_settings(**{key: value}):
        assert checks.check_values() == []


def test_page_size_ten_in_words_fails_manage_py_check():
    with djira_settings(PAGE_SIZE="ten"), pytest.raises(SystemCheckError, match="djira.E006"):
        call_command("check")


def test_a_page_size_above_the_cap_is_a_warning():
    with djira_settings(PAGE_SIZE=50, MAX_PAGE_SIZE=20):
        assert ids(checks.check_values()) == ["djira.W004"]


# -- origins --------------------------------------------------------------------------------


def test_an_empty_origin_list_is_an_error_since_it_turns_checking_off():
    with djira_settings(CORS_ALLOWED_ORIGINS=[]):
        [error] = checks.check_origins()
    assert error.id == "djira.E007"
    assert "session" in error.msg and "None" in error.hint


@pytest.mark.parametrize("origins", ["*", ["*"], ["https://app.example.com", "*"], ("*",)])
def test_a_wildcard_origin_is_a_warning(origins):
    with djira_settings(CORS_ALLOWED_ORIGINS=origins):
        [warning] = checks.check_origins()
    assert warning.id == "djira.W002"
    assert "session" in warning.msg


@pytest.mark.parametrize("origins", [5, ["https://a.example.com", 1]])
def test_origins_of_the_wrong_type_are_an_error(origins):
    with djira_settings(CORS_ALLOWED_ORIGINS=origins):
        assert ids(checks.check_origins()) == ["djira.E008"]


@pytest.mark.parametrize(
    "origins", [None, ["https://app.example.com"], "https://app.example.com", lambda o: True]
)
def test_listed_origins_pass(origins):
    with djira_settings(CORS_ALLOWED_ORIGINS=origins):
        assert checks.check_origins() == []


# -- redis ----------------------------------------------------------------------------------


def test_redis_url_without_the_redis_package_is_an_error(monkeypatch):
    # The one simulated part: the package's absence (the check itself runs for real).
    monkeypatch.setitem(sys.modules, "redis", None)
    with djira_settings(REDIS_URL="redis://localhost:6379/0"):
        [error] = checks.check_redis()
    assert error.id == "djira.E009"
    assert "REDIS_URL" in error.msg
    # The hint names the distribution pip knows, whatever pyproject calls it.
    project = tomllib.loads(Path(ROOT, "pyproject.toml").read_text())["project"]["name"]
    assert f"pip install '{project}[redis]'" in error.hint


@pytest.mark.parametrize("url", ["redis://localhost:6379/0", "rediss://r:6380", "unix:///r.sock"])
def test_redis_urls_pass_when_redis_is_installed(url):
    with djira_settings(REDIS_URL=url):
        assert checks.check_redis() == []


@pytest.mark.parametrize("url", ["localhost:6379", "http://localhost:6379", 6379])
def test_a_redis_url_of_another_scheme_is_an_error(url):
    with djira_settings(REDIS_URL=url):
        [error] = checks.check_redis()
    assert error.id == "djira.E010"
    assert "redis://" in error.hint


# -- delivery backend -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["redis", "djira.delivery.backends.RedisBackend"])
def test_the_redis_backend_without_a_redis_url_is_an_error(name):
    with djira_settings(DELIVERY_BACKEND=name):
        [error] = checks.check_delivery()
    assert error.id == "djira.E011"
    assert "REDIS_URL" in error.hint and "'database'" in error.hint


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"DELIVERY_BACKEND": "database"},
        {"DELIVERY_BACKEND": "djira.delivery.backends.DatabaseBackend"},
        {"DELIVERY_BACKEND": "redis", "REDIS_URL": "redis://r"},
    ],
)
def test_a_backend_with_what_it_needs_passes(values):
    with djira_settings(**values):
        assert checks.check_delivery() == []


@pytest.mark.parametrize(
    "value",
    # A word that names no backend, a module, a class that is no backend, a typo, a number.
    ["postgres", "djira.delivery.database", "djira.server.DjiraServer", "djira.nope.Backend", 1],
)
def test_an_unknown_backend_is_an_error(value):
    with djira_settings(DELIVERY_BACKEND=value):
        errors = [e for e in checks.check_values() if "DELIVERY_BACKEND" in e.msg]
        assert checks.check_delivery() == []  # said once, by E006
    assert [e.id for e in errors] == ["djira.E006"]


def test_a_backend_subclass_is_used_by_its_import_string():
    from djira.delivery.backends import DatabaseBackend, get_backend

    with djira_settings(DELIVERY_BACKEND="tests.testapp.backends.CountingBackend"):
        assert checks.check_values() == []
        backend = get_backend()
    assert isinstance(backend, DatabaseBackend) and type(backend).__name__ == "CountingBackend"


# -- writes open to anyone ------------------------------------------------------------------


class GuardedActionHook(APIHook):
    @action(actions=["POST"], permission_classes=["djira.permissions.IsAuthenticated"])
    def publish(self, scope):
        return {}


@pytest.fixture
def served():
    """A server whose consumer registers the test project's hooks by hand."""
    sio = create_server()
    consumer = Consumer(sio)
    consumer.register("books", BookAPIHook)
    consumer.register("readonly", ReadOnlyBookAPIHook)
    consumer.register("private", PrivateBookAPIHook)
    consumer.register("tools", ToolsAPIHook)
    consumer.register("guarded", GuardedActionHook)
    return sio


def open_writes(**values):
    with djira_settings(**values):
        found = checks.check_open_writes()
    assert set(ids(found)) <= {"djira.W003"}
    return {m.msg.split("'")[1]: m for m in found}


def test_registered_hooks_that_write_under_allow_any_are_warned_about(served):
    found = open_writes(SOCKET_INSTANCE=served)
    assert {"books", "tools"} <= set(found)
    assert not {"readonly", "private", "guarded"} & set(found)
    books = found["books"]
    assert "create, update, partial_update, destroy" in books.msg
    assert "POST/PATCH echo-both" in books.msg and "POST shout" in books.msg
    assert "owned" not in books.msg  # its @action sets permission_classes
    assert "PERMISSION_CLASSES" in books.hint
    assert books.obj == "tests.testapp.hooks.BookAPIHook"


@pytest.mark.parametrize(
    "classes", [["djira.permissions.AllowAny"], ["rest_framework.permissions.AllowAny"], []]
)
def test_explicit_allow_any_is_warned_about_too(served, classes):
    assert "books" in open_writes(SOCKET_INSTANCE=served, PERMISSION_CLASSES=classes)


def test_a_default_permission_silences_the_warning(served):
    found = open_writes(
        SOCKET_INSTANCE=served, PERMISSION_CLASSES=["djira.permissions.IsAuthenticated"]
    )
    assert found == {}


def test_discovered_hooks_are_checked():
    # tests/testapp/observed.py declares ``event = "observed"`` on a writing hook.
    assert "observed" in open_writes()


def test_the_check_builds_no_server():
    # In a fresh process: nothing built the default server, and the checks must not either.
    code = (
        "import django; django.setup();"
        "from django.core.management import call_command; call_command('check');"
        "from djira.server import get_default_server;"
        "print('built', get_default_server.cache_info().currsize)"
    )
    result = run(sys.executable, "-c", code)
    assert "djira.W003" in result.stderr  # the hook check did run
    assert result.stdout.strip().endswith("built 0")


# -- the admin console ----------------------------------------------------------------------


def test_the_console_without_htmx_middleware_is_an_error(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "htmx" not in m]
    [error] = check_console()
    assert error.id == "djira.E101"
    assert "django_htmx.middleware.HtmxMiddleware" in error.hint


class ProjectHtmxMiddleware(HtmxMiddleware):
    pass


def test_a_subclass_of_the_htmx_middleware_is_enough(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "htmx" not in m] + [
        "tests.test_checks.ProjectHtmxMiddleware"
    ]
    assert check_console() == []


def test_without_django_htmx_the_console_is_off_with_a_warning(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django_htmx"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "htmx" not in m]
    assert ids(check_console()) == ["djira.W101"]


def test_without_the_admin_there_is_no_console_to_check(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django.contrib.admin"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "htmx" not in m]
    assert check_console() == []


# -- whole projects and server start --------------------------------------------------------


def run(*command, cwd=ROOT, settings="tests.settings"):
    env = {"DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": ROOT}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_the_test_settings_pass_manage_py_check():
    call_command("check")  # raises SystemCheckError on any error


def test_the_example_passes_manage_py_check_without_warnings():
    example = str(Path(ROOT, "example"))
    result = run(sys.executable, "manage.py", "check", cwd=example, settings="example.settings")
    assert result.returncode == 0, result.stderr
    assert "djira." not in result.stdout + result.stderr


def test_a_typo_fails_manage_py_check():
    with (
        djira_settings(AUTHENTICATION_CLASSES=["jira.authentication.TokenAuthentication"]),
        pytest.raises(SystemCheckError, match=r"jira\.authentication\.TokenAuthentication"),
    ):
        call_command("check")


def test_the_asgi_application_refuses_to_start_with_errors():
    with (
        djira_settings(PAGE_SIZE="ten", CORS_ALLOWED_ORIGINS=[]),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        get_asgi_application()
    message = str(caught.value)
    assert "djira.E006" in message and "PAGE_SIZE" in message
    assert "djira.E007" in message
    assert "W003" not in message  # warnings are logged, not raised


def test_warnings_do_not_stop_the_server():
    with djira_settings(PAGE_SIZE=50, MAX_PAGE_SIZE=20):
        assert ids(checks.check_values()) == ["djira.W004"]
        checks.raise_on_errors()


def test_silenced_errors_do_not_stop_the_server():
    with (
        djira_settings(PAGE_SIZE="ten"),
        override_settings(SILENCED_SYSTEM_CHECKS=["djira.E006"]),
    ):
        checks.raise_on_errors()


def test_the_test_settings_start():
    checks.raise_on_errors()
