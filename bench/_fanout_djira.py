"""Fan-out, djira side: the example project as shipped, plus a ``touch`` hook for the writer.

Subscribers use the example's ``articles`` hook, route ``subscribe`` (its ``@observer`` over
``Article``). The writer saves through ``touch``, the same body as the bare baseline's.

    uvicorn --app-dir example bench._fanout_djira:application
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
if os.environ.get("BENCH_TRACEMALLOC"):  # bench/connections.py --tracemalloc
    import bench._tracemalloc_hook  # noqa: F401
django.setup()

if "BENCH_HISTORY_SIZE" in os.environ:
    # bench/fanout.py --history: the same app without (0) or with the rooms' history.
    from django.conf import settings

    from djira.settings import jira_settings

    history_size = int(os.environ["BENCH_HISTORY_SIZE"])
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, "HISTORY_SIZE": history_size}
    jira_settings.reload()

if "BENCH_DJIRA_SETTINGS" in os.environ:
    # bench/connections.py --djira-settings: DJIRA_SETTINGS overridden (JSON).
    import json

    from django.conf import settings

    from djira.settings import jira_settings

    overrides = json.loads(os.environ["BENCH_DJIRA_SETTINGS"])
    settings.DJIRA_SETTINGS = {**settings.DJIRA_SETTINGS, **overrides}
    jira_settings.reload()

from blog.models import Article  # noqa: E402 - after django.setup()

from djira.decorators import action  # noqa: E402
from djira.hooks import APIHook  # noqa: E402


class TouchHook(APIHook):
    event = "touch"

    @action(actions=["POST"])
    def touch(self, scope: Any) -> bool:
        article = Article.objects.get(pk=scope.data["pk"])
        article.title = scope.data["title"]
        article.save()
        return True


from example.asgi import application  # noqa: E402, F401 - discovers TouchHook too

if os.environ.get("BENCH_PROFILE"):
    # bench/fanout.py --profile PATH: cProfile of the event loop's thread, written when the
    # benchmark sends SIGUSR1 (uvicorn owns SIGTERM).
    import cProfile
    import signal

    _profile = cProfile.Profile()
    _profile.enable()

    def _dump(*args: Any) -> None:
        _profile.disable()
        _profile.dump_stats(os.environ["BENCH_PROFILE"])

    signal.signal(signal.SIGUSR1, _dump)
