"""tests/settings.py with the inspector's act-as authentication first, for
tests/admin/test_act_as.py; ``DJIRA_TEST_ACT_AS=1`` turns ``INSPECTOR_ACT_AS`` on."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DJIRA_SETTINGS as BASE

DJIRA_SETTINGS = {
    **BASE,
    "AUTHENTICATION_CLASSES": [
        "djira.admin.actas.ActAsAuthentication",
        "djira.authentication.SessionAuthentication",
        "djira.authentication.TokenAuthentication",
    ],
    "INSPECTOR_ACT_AS": os.environ.get("DJIRA_TEST_ACT_AS") == "1",
}
