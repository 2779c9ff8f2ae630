"""TypeScript types and a typed facade generated from the hooks (docs/client.md).

    from djira.typescript import build_module
    text = build_module(consumer.hooks)

``manage.py djira_typescript -o src/api.ts`` writes it for the hooks a project serves.
"""

from __future__ import annotations

from djira.typescript.module import build_module

__all__ = ["build_module"]
