"""JSON module handed to python-socketio: encodes what DRF's renderer encodes.

Replies carry serializer output and user data (datetimes, decimals, UUIDs, lazy strings);
DRF's encoder handles all of them, so a reply never fails on a type the HTTP API accepts.
"""

from __future__ import annotations

import json as _json
from typing import Any

from rest_framework.utils.encoders import JSONEncoder

loads = _json.loads
JSONDecodeError = _json.JSONDecodeError

_encoder = JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(obj: Any, **kwargs: Any) -> str:
    """Encode ``obj`` compactly (python-socketio passes ``separators``; ours are the same)."""
    return _encoder.encode(obj)
