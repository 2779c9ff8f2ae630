"""djira: a realtime Socket.IO API for Django, written like Django REST framework viewsets.

Everyday names are importable from here; import the rest from their modules, as in DRF
(``from djira.permissions import IsAuthenticated``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Loaded on first access: ``djira`` itself is imported while Django's app registry is
# still loading, before models (used by these modules) may be imported.
_LAZY = {
    "APIHook": "djira.hooks",
    "ModelAPIHook": "djira.hooks",
    "ReadOnlyModelAPIHook": "djira.hooks",
    "action": "djira.decorators",
    "Consumer": "djira.consumer",
    "Response": "djira.response",
    "Scope": "djira.scope",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'djira' has no attribute {name!r}")
