"""The console's download of the AsyncAPI document of the hooks this process serves."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse

from djira.admin.state import get_consumer
from djira.asyncapi import build_document

if TYPE_CHECKING:
    from djira.admin.options import ConsoleAdmin


def asyncapi_download(admin: ConsoleAdmin, request: HttpRequest) -> HttpResponse:
    """``asyncapi.json`` as an attachment, for the host the console was reached on."""
    scheme = "wss" if request.is_secure() else "ws"
    document = build_document(get_consumer().hooks, url=f"{scheme}://{request.get_host()}")
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="asyncapi.json"'
    return response
