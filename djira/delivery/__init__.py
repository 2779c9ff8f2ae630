"""From a committed change (or an emit) to the sockets: which backend carries pushes.

``DELIVERY_BACKEND`` names it (docs/observers.md, "Delivery backends"):

- ``"database"``: the transactional outbox (``djira.delivery.database``). A change's pushes
  are written in its own transaction, so they exist if and only if it committed, and any
  process that saves through the ORM publishes. The default without ``REDIS_URL``.
- ``"redis"``: Redis carries pushes between processes and keeps the rooms' history. The
  default with ``REDIS_URL``.
- ``"memory"``: one process, nothing stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from djira.server import DjiraServer

Kind = Literal["database", "redis", "memory"]
KINDS: tuple[Kind, ...] = ("database", "redis", "memory")


def backend_kind() -> Kind:
    """The configured backend (read at call time, so ``override_settings`` applies)."""
    from djira.settings import jira_settings

    name = jira_settings.DELIVERY_BACKEND
    if name is None:
        return "redis" if jira_settings.REDIS_URL else "database"
    assert name in KINDS, f"DJIRA_SETTINGS['DELIVERY_BACKEND'] should be one of {KINDS}."
    return name


def get_server() -> DjiraServer:
    """The server pushes go through when none is named: ``SOCKET_INSTANCE``."""
    from djira.settings import jira_settings

    return jira_settings.SOCKET_INSTANCE
