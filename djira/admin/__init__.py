"""djira's realtime console inside the Django admin.

Importing this package (Django's admin autodiscovery does) registers the console's
table-less models with ``admin.site``: a "djira" section on the admin index with Hooks,
Connections, Rooms, Traffic and Inspector. No URL configuration is needed beyond
``admin.site.urls``. See docs/admin.md.
"""

from __future__ import annotations

from django.apps import apps


def setup() -> None:
    """Register the console with ``admin.site`` and its listeners (once).

    Run when Django's admin imports this package (autodiscovery). Imported earlier, while
    apps are still loading (``"djira.admin.live"`` in ``INSTALLED_APPS`` imports its parent
    package then), it waits: that app's ``ready()`` calls it once models are loaded.
    """
    global _set_up
    # The console's templates need django-htmx: without it the API still works and the
    # console stays off (system check djira.W101 says how to turn it on).
    if _set_up or not (
        apps.is_installed("django.contrib.admin") and apps.is_installed("django_htmx")
    ):
        return
    _set_up = True
    from functools import partial

    from djira import lifecycle
    from djira.admin import options  # noqa: F401 - registers the ModelAdmins
    from djira.admin.actas import ActAsAudit
    from djira.admin.live import checks as live_checks  # noqa: F401 - LIVE_ADMIN's checks
    from djira.admin.recorder import TrafficRecorder
    from djira.admin.state import start_heartbeat

    # The console's data source: every server's lifecycle events (djira.lifecycle).
    lifecycle.register_listener(partial(TrafficRecorder, on_first_connection=start_heartbeat))
    # The audit of requests made while acting as another user (djira.admin.actas).
    lifecycle.register_listener(ActAsAudit)


_set_up = False
if apps.models_ready:
    setup()
