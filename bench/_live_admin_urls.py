"""bench/live_admin.py's URLs: read by the resolver, after the admin is registered."""

from django.urls import path

from bench._live_admin_site import site

urlpatterns = [path("admin/", site.urls)]
