"""The Prometheus scrape endpoint: a Django view the project mounts.

    # urls.py
    from djira.telemetry.views import metrics
    urlpatterns = [path("djira/metrics", metrics), ...]

It answers staff users (a session, like the admin) and, for Prometheus itself, requests
carrying ``Authorization: Bearer <METRICS_TOKEN>``; anyone else gets 401 or 403, and every
request gets 404 while ``METRICS`` is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import threading
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

from djira.settings import jira_settings


def allowed(request: HttpRequest) -> bool:
    """Whether ``request`` may read the metrics: the scrape token, or a staff user."""
    token = jira_settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    user = getattr(request, "user", None)  # None without AuthenticationMiddleware
    return bool(user is not None and user.is_active and user.is_staff)


def record_readiness(gauge: Any) -> None:
    """Run the readiness checks of ``/djira/health/ready`` now, into ``djira_ready``.

    At scrape time, in the scraping process: the database (this thread's connections) and
    the delivery backend's checks (Redis with ``REDIS_URL``), each within its time budget.
    """
    from asgiref.sync import async_to_sync

    from djira.health import CHECK_TIMEOUT, get_delivery_checks, ping_databases

    # On a thread of its own, as the health endpoint does: ``ping_databases`` closes the
    # connections of the thread it runs on, and this request's are not its to close.
    database: list[bool] = []

    def ping() -> None:
        with contextlib.suppress(Exception):
            ping_databases()
            database.append(True)

    thread = threading.Thread(target=ping, name="djira-metrics-ready", daemon=True)
    thread.start()
    thread.join(CHECK_TIMEOUT)
    gauge.labels("database").set(int(bool(database)))
    checks = get_delivery_checks()
    if not checks:
        return

    async def run() -> list[Any]:
        waits = (asyncio.wait_for(check(), CHECK_TIMEOUT) for check in checks.values())
        return await asyncio.gather(*waits, return_exceptions=True)

    for name, outcome in zip(checks, async_to_sync(run)(), strict=True):
        gauge.labels(name).set(0 if isinstance(outcome, BaseException) else 1)


def metrics(request: HttpRequest) -> HttpResponse:
    """Every djira metric in Prometheus' text format, all worker processes' together."""
    if not jira_settings.METRICS:
        raise Http404("djira's metrics are off (DJIRA_SETTINGS['METRICS']).")
    if not allowed(request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return HttpResponse("Staff only.", status=403, content_type="text/plain")
        response = HttpResponse("Authentication required.", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="djira metrics"'
        return response
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    from djira.telemetry.metrics import get_metrics
    from djira.telemetry.sampling import sample

    record_readiness(get_metrics().ready)
    sample()  # queues' high-water marks, the delivery backend's health and lag
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every worker writes its values to files there; read them all, not this process's.
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
