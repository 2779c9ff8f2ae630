"""Soak benchmark, server side: the example project as shipped plus a ``soak`` hook.

``soak`` has two routes for bench/soak.py (nothing else uses them):

- ``touch`` (POST ``{"pk", "body"}``): the writer saves an article, which the example's
  ``@observer(Article, ...)`` pushes to rooms ``article`` and ``article__<pk>``;
- ``stats`` (GET): the server's RSS (KiB, from ``/proc``), its open sockets and the admin
  recorder's count of disconnects by reason since the process started.

    uvicorn --app-dir example bench._soak_app:application
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django.setup()

from blog.models import Article  # noqa: E402 - after django.setup()

from djira.decorators import action  # noqa: E402
from djira.hooks import APIHook  # noqa: E402


class SoakHook(APIHook):
    event = "soak"

    @action(actions=["POST"])
    def touch(self, scope: Any) -> bool:
        article = Article.objects.get(pk=scope.data["pk"])
        article.body = scope.data["body"]
        article.save()
        return True

    @action(actions=["GET"])
    async def stats(self, scope: Any) -> dict[str, Any]:
        from djira.admin.state import get_recorder

        rss = 0
        with open(f"/proc/{os.getpid()}/status") as status:  # noqa: ASYNC230 - procfs, instant
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        server = scope.server
        recorder = get_recorder(server.djira_consumer)
        return {
            "rss_kib": rss,
            "sockets": len(server.eio.sockets),
            "disconnects": dict(recorder.disconnects) if recorder else None,
        }


from example.asgi import application  # noqa: E402, F401 - discovers SoakHook too
