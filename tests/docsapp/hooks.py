"""Hooks of the deployment tests' server (tests/test_gunicorn.py, tests/test_nginx.py).

They declare ``event``, so the docs' server discovers them beside the hooks tests/asgi.py
registers by hand. The docs' own samples run in a project of their own
(tests/docproject.py).
"""

import os
import time

from djira.decorators import action
from djira.hooks import APIHook


class WhoAmIHook(APIHook):
    event = "docs_whoami"

    @action(actions=["GET"])
    def me(self, scope):
        return {
            "username": scope.user.username or None,
            "address": scope.environ.get("REMOTE_ADDR"),
            "scheme": scope.environ.get("HTTP_X_FORWARDED_PROTO"),
            "pid": os.getpid(),  # which worker process answered
        }


class BusyHook(APIHook):
    event = "docs_busy"

    @action(actions=["POST"])
    async def hold(self, scope):
        # Blocks this worker's event loop on purpose, as a long request would: meanwhile
        # only the other workers accept connections (tests/test_gunicorn.py).
        time.sleep(float(scope.data))  # noqa: ASYNC251 - blocking is the point
        return None
