from django.apps import AppConfig


class DocsAppConfig(AppConfig):
    """The deployment tests' hooks, served by the docs' test server (discovered)."""

    name = "tests.docsapp"
    label = "docsapp"
