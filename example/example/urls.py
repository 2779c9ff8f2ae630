from board.views import board, favicon
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="board/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("favicon.ico", favicon),
    path("", board, name="index"),
]
# No static files line: with DEBUG on, djira.asgi.get_asgi_application serves them under
# uvicorn as runserver would (the demo, the e2e tests).
