"""Settings of bench/live_admin.py: the tests' settings, with Book observed by nobody but the
live admin (tests.testapp's own observers are not imported) and the live admin's URLs."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [  # noqa: F405
    "bench._live_admin_apps.BookAppConfig" if app == "tests.testapp" else app
    for app in INSTALLED_APPS  # noqa: F405
]
ROOT_URLCONF = "bench._live_admin_urls"
