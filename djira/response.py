"""What an action body may return besides plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Response:
    """A reply body with its status, like DRF's ``Response`` for sockets.

    :param data: JSON-serializable body (serializer ``.data``, dicts, lists...).
    :param status: HTTP-style status code of the reply.
    """

    data: Any = None
    status: int = 200
