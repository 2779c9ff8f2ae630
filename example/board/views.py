from functools import cache
from pathlib import Path

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


@cache
def favicon_svg() -> bytes:
    return (Path(__file__).parent / "static" / "board" / "favicon.svg").read_bytes()


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on every page (the admin's too): the board's
    icon rather than a 404 in the log each time."""
    return HttpResponse(
        favicon_svg(), content_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )
