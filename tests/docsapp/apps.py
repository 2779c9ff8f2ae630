from django.apps import AppConfig


class DocsAppConfig(AppConfig):
    """Hooks that use the docs' classes, served by the docs' test server (discovered)."""

    name = "tests.docsapp"
    label = "docsapp"
