"""An AsyncAPI 3.0 document of the hooks a consumer serves (docs/asyncapi.md).

    from djira.asyncapi import build_document
    document = build_document(consumer.hooks, url="wss://example.com")

``manage.py djira_asyncapi`` prints it; the console's Hooks page offers it as a download.
"""

from __future__ import annotations

from djira.asyncapi.document import ASYNCAPI_VERSION, build_document

__all__ = ["ASYNCAPI_VERSION", "build_document"]
