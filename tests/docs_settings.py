"""tests.settings plus the docs' classes: the server that runs the docs' samples."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DJIRA_SETTINGS, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.docsapp.apps.DocsAppConfig"]

DJIRA_SETTINGS = {
    **DJIRA_SETTINGS,
    "AUTHENTICATION_CLASSES": [
        "tests.docsamples.DeviceKeyAuthentication",
        "tests.docsamples.JWTSocketAuthentication",
        "djira.authentication.SessionAuthentication",
        "djira.authentication.TokenAuthentication",
    ],
    # Comma-separated dotted paths, so one test can start a server with other classes.
    "PERMISSION_CLASSES": os.environ.get(
        "DJIRA_DOCS_PERMISSION_CLASSES", "djira.permissions.AllowAny"
    ).split(","),
}
if os.environ.get("DJIRA_DOCS_MIDDLEWARE"):
    DJIRA_SETTINGS["MIDDLEWARE_CLASSES"] = os.environ["DJIRA_DOCS_MIDDLEWARE"].split(",")
if os.environ.get("DJIRA_DOCS_NUM_PROXIES"):
    DJIRA_SETTINGS["NUM_PROXIES"] = int(os.environ["DJIRA_DOCS_NUM_PROXIES"])
