from board.views import board
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="board/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", board, name="index"),
]
# uvicorn serves no static files: let Django do it while DEBUG is on (the demo, e2e tests).
urlpatterns += staticfiles_urlpatterns()
