"""djira: a realtime Socket.IO API for Django, written like Django REST framework viewsets."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
