"""JSON module handed to python-socketio: encodes what DRF's renderer encodes.

Replies carry serializer output and user data (datetimes, decimals, UUIDs, lazy strings);
DRF's encoder handles all of them, so a reply never fails on a type the HTTP API accepts.

djira encodes each reply itself, once, before handing it to python-socketio (so a value
that cannot be encoded becomes a 500 reply instead of an error inside python-socketio, after
the fact). The result is an ``Encoded`` string, which ``dumps`` splices into the packet
verbatim instead of encoding it again.
"""

from __future__ import annotations

import json as _json
from typing import Any

from rest_framework.utils.encoders import JSONEncoder

loads = _json.loads
JSONDecodeError = _json.JSONDecodeError

_encoder = JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class Encoded(str):
    """JSON text already encoded by djira; packets include it as it is."""

    __slots__ = ()


def encode(obj: Any) -> Encoded:
    """Encode ``obj`` once; raises ``TypeError``/``ValueError`` if it cannot be encoded."""
    return Encoded(_encoder.encode(obj))


def dumps(obj: Any, **kwargs: Any) -> str:
    """Encode ``obj`` compactly (python-socketio passes ``separators``; ours are the same).

    A packet's data is a list (``[event, reply]`` or ``[reply]``): ``Encoded`` items in it
    are spliced in, not encoded twice.
    """
    if type(obj) is list and any(type(item) is Encoded for item in obj):
        return (
            "["
            + ",".join(item if type(item) is Encoded else _encoder.encode(item) for item in obj)
            + "]"
        )
    return _encoder.encode(obj)
