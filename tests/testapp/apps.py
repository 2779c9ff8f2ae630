from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"

    def ready(self):
        # Observers connect their signals where their hook classes are defined: import
        # them in ready(), as an app imports its signals module, so every process (server,
        # manage.py command, worker) pushes.
        from . import observed  # noqa: F401
