"""djira's models: the delivery backend's tables, and the console's table-less models.

The console's models have no table (``managed = False``): they give the admin its index
entries and permissions, and its pages read live server state. The database delivery
backend's ``Outbox`` and ``Stream`` live in ``djira.delivery.models``, its
``IdempotencyKey`` in ``djira.delivery.idempotency.models``.
"""

from __future__ import annotations

from django.db import models

from djira.delivery.idempotency.models import IdempotencyKey
from djira.delivery.models import Outbox, Presence, Process, Stream

__all__ = ["IdempotencyKey", "Outbox", "Presence", "Process", "Stream"]


class ConsoleModel(models.Model):
    class Meta:
        abstract = True
        managed = False
        default_permissions = ()

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class Console(ConsoleModel):
    """Holds the console's permissions (superusers have them all)."""

    class Meta(ConsoleModel.Meta):
        verbose_name = "realtime console"
        permissions = [
            ("view_dashboard", "Can view the djira realtime console"),
            ("use_inspector", "Can send requests from the djira inspector"),
            ("disconnect_client", "Can disconnect djira clients"),
        ]


class Hook(ConsoleModel):
    class Meta(ConsoleModel.Meta):
        verbose_name = "hook"
        verbose_name_plural = "hooks"


class Connection(ConsoleModel):
    class Meta(ConsoleModel.Meta):
        verbose_name = "connection"
        verbose_name_plural = "connections"


class Room(ConsoleModel):
    class Meta(ConsoleModel.Meta):
        verbose_name = "room"
        verbose_name_plural = "rooms"


class Traffic(ConsoleModel):
    class Meta(ConsoleModel.Meta):
        verbose_name = "traffic"
        verbose_name_plural = "traffic"


class Inspector(ConsoleModel):
    class Meta(ConsoleModel.Meta):
        verbose_name = "inspector"
        verbose_name_plural = "inspector"
