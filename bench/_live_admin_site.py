"""bench/live_admin.py's admin: ``Book`` with a plain admin, made live by ``make_live_site``."""

from __future__ import annotations

from django.contrib import admin

site = admin.AdminSite(name="admin")


def book_admin(live: bool) -> type[admin.ModelAdmin]:
    from djira.admin.live.options import LiveModelAdminMixin

    bases = (LiveModelAdminMixin, admin.ModelAdmin) if live else (admin.ModelAdmin,)
    attrs = {"list_display": ["title", "author", "year"], "search_fields": ["title"]}
    attrs["__module__"] = __name__
    return type("BookAdmin", bases, attrs)


def register(live: bool) -> None:
    from tests.testapp.models import Book

    if site.is_registered(Book):
        site.unregister(Book)
    site.register(Book, book_admin(live))
