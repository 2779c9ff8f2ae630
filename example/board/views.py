from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.authtoken.models import Token

from .models import Task


@login_required
def board(request: HttpRequest) -> HttpResponse:
    """The board page: the browser talks to djira over the session cookie; the page also
    shows the user's API token, for scripts and other clients (token authentication)."""
    token, _ = Token.objects.get_or_create(user=request.user)
    return render(
        request,
        "board/index.html",
        {"token": token.key, "priorities": Task.Priority.choices},
    )
