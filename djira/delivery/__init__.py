"""From a committed change (or an emit) to the sockets: which backend carries pushes.

``DELIVERY_BACKEND`` names it (docs/observers.md, "Delivery backends"), by one of the short
names below or by the import string of a ``djira.delivery.backends.Backend`` subclass, the
way Channels names its layers:

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

#: The short names ``DELIVERY_BACKEND`` accepts, and the classes they name.
ALIASES: dict[str, str] = {
    "database": "djira.delivery.backends.DatabaseBackend",
    "redis": "djira.delivery.backends.RedisBackend",
    "memory": "djira.delivery.backends.MemoryBackend",
}


def backend_path() -> str:
    """The configured backend's class, as an import string (read at call time, so
    ``override_settings`` applies)."""
    from djira.settings import jira_settings

    name = jira_settings.DELIVERY_BACKEND
    if name is None:
        name = "redis" if jira_settings.REDIS_URL else "database"
    return ALIASES.get(name, name)


def backend_kind() -> Kind:
    """What the configured backend stores in: ``"database"``, ``"redis"`` or ``"memory"``."""
    from djira.delivery.backends import get_backend

    return get_backend().kind


def get_server() -> DjiraServer:
    """The server pushes go through when none is named: ``SOCKET_INSTANCE``."""
    from djira.settings import jira_settings

    return jira_settings.SOCKET_INSTANCE
