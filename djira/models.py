"""Table-less models: they give the admin console its index entries and its permissions.

None of them has a table (``managed = False``); the admin pages read live server state.
"""

from __future__ import annotations

from django.db import models


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
