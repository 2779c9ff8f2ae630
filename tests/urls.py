from django.contrib import admin
from django.urls import path

from djira.telemetry.views import metrics

urlpatterns = [path("admin/", admin.site.urls), path("djira/metrics", metrics)]
