"""bench/live_admin.py's app config for ``tests.testapp``."""

from django.apps import AppConfig


class BookAppConfig(AppConfig):
    """tests.testapp without its ``ready()`` (which connects the tests' observers of Book)."""

    name = "tests.testapp"
    label = "testapp"
