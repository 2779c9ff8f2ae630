"""The example's settings with the inspector's act-as on (e2e/test_trace_and_act_as.py)."""

from example.settings import *  # noqa: F403
from example.settings import DJIRA_SETTINGS as BASE

DJIRA_SETTINGS = {
    **BASE,
    "AUTHENTICATION_CLASSES": [
        "djira.admin.actas.ActAsAuthentication",
        "djira.authentication.SessionAuthentication",
        "djira.authentication.TokenAuthentication",
    ],
    "INSPECTOR_ACT_AS": True,
}
