from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", TemplateView.as_view(template_name="index.html"), name="index"),
]
# uvicorn serves no static files: let Django do it while DEBUG is on (the demo, e2e tests).
urlpatterns += staticfiles_urlpatterns()
