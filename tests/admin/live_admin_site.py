"""An admin site of its own for the live admin's tests (tests/admin/test_live_admin.py).

The ``ModelAdmin`` here is a plain one: the rows view and the version check are the live
admin's functions applied to it, so no observer is connected for ``Book`` in the test
process (other tests count Book's pushes).
"""

from django.contrib import admin
from django.urls import path

from tests.testapp.models import Book

site = admin.AdminSite(name="liveadmin")


class BookAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "year_label", "owner"]
    list_filter = ["year"]
    search_fields = ["title"]

    @admin.display(description="Year")
    def year_label(self, obj):
        return f"in {obj.year}"

    def get_queryset(self, request):
        books = super().get_queryset(request)
        return books if request.user.is_superuser else books.filter(owner=request.user)


site.register(Book, BookAdmin)
urlpatterns = [path("live-admin/", site.urls)]
