"""Live admin pages: changelists that follow the database, change forms that know of others.

A ``ModelAdmin`` opts in with ``LiveModelAdminMixin`` (djira.admin.live.options); with
``DJIRA_SETTINGS["LIVE_ADMIN"] = True`` and ``"djira.admin.live"`` in ``INSTALLED_APPS``
(after ``django.contrib.admin``), every admin of ``admin.site`` does. Nothing here is
imported, and nothing costs anything, unless one of these is used. See docs/admin.md.
"""
