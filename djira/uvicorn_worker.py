"""gunicorn's worker class for djira: uvicorn-worker's, serving with djira.uvicorn_http.

    gunicorn mysite.asgi:application -k djira.uvicorn_worker.UvicornWorker -w 4

uvicorn-worker's ``UvicornWorker`` with uvicorn's httptools protocol swapped for
djira's, which leaves no reference cycle behind each websocket (djira.uvicorn_http). It
needs ``pip install gunicorn uvicorn-worker``; nothing else in djira imports it.
"""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker as _UvicornWorker

from djira.uvicorn_http import HttpToolsProtocol

__all__ = ["UvicornWorker"]


class UvicornWorker(_UvicornWorker):
    # A class, not an import string: uvicorn takes a class for ``http`` in every version.
    CONFIG_KWARGS: dict[str, Any] = {**_UvicornWorker.CONFIG_KWARGS, "http": HttpToolsProtocol}
