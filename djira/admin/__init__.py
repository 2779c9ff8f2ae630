"""djira's realtime console inside the Django admin.

Importing this package (Django's admin autodiscovery does) registers the console's
table-less models with ``admin.site``: a "djira" section on the admin index with Hooks,
Connections, Rooms, Traffic and Inspector. No URL configuration is needed beyond
``admin.site.urls``. See docs/admin.md.
"""

from __future__ import annotations

from django.apps import apps

if apps.is_installed("django.contrib.admin"):
    from djira.admin import options  # noqa: F401 - registers the ModelAdmins
