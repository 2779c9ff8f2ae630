"""tests.settings plus the docs' deployment helpers (tests.docsapp): the server that
tests/test_gunicorn.py and tests/test_nginx.py run as deployment.md serves it."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DJIRA_SETTINGS, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.docsapp.apps.DocsAppConfig"]

DJIRA_SETTINGS = {**DJIRA_SETTINGS, "PERMISSION_CLASSES": ["djira.permissions.AllowAny"]}
if os.environ.get("DJIRA_DOCS_NUM_PROXIES"):
    DJIRA_SETTINGS["NUM_PROXIES"] = int(os.environ["DJIRA_DOCS_NUM_PROXIES"])
