"""The database backend's tables (``djira.delivery.database``, ``djira.delivery.processes``).

``Outbox`` holds every push and emit, written in the transaction of the change that caused
it, then numbered; it is also the rooms' history for catch-up. ``Stream`` holds each room's
last offset and epoch, plus one row (key ``""``) for the global sequence that servers read in.
"""

from __future__ import annotations

from django.db import models


class Outbox(models.Model):
    """One push (``stream`` set) or emit (``stream`` null), in the order it was numbered."""

    id = models.BigAutoField(primary_key=True)
    #: Wall clock (``time.time()``) when written: history's age, and when a row is trimmed.
    created = models.FloatField()
    #: Digest of the room's stream key (observer uid and room): long room names stay indexable.
    #: Null for an emit: no room, no stream (distinct from any digest; never an empty string).
    stream = models.CharField(max_length=40, null=True)  # noqa: DJ001
    #: Position in the global sequence (servers read in this order); null until numbered.
    seq = models.BigIntegerField(null=True, unique=True)
    #: Position in the room's stream; null for emits and until numbered.
    offset = models.BigIntegerField(null=True)
    #: The message as djira's wire format encodes it (``djira.delivery.outbox.to_wire``).
    payload = models.TextField()

    class Meta:
        db_table = "djira_outbox"
        indexes = [
            models.Index(fields=["stream", "offset"], name="djira_outbox_stream"),
            models.Index(fields=["created"], name="djira_outbox_created"),
            models.Index(
                fields=["id"], condition=models.Q(seq__isnull=True), name="djira_outbox_unnumbered"
            ),
        ]

    def __str__(self) -> str:
        return f"outbox #{self.id} (seq {self.seq})"


class Process(models.Model):
    """A live process's heartbeat (``process:<id>``) or a flag (``flag:<name>``) until
    ``expires`` (``djira.delivery.processes``)."""

    key = models.CharField(max_length=200, primary_key=True)
    #: The process's snapshot, JSON.
    value = models.TextField()
    #: Wall clock (``time.time()``) after which the row counts as gone.
    expires = models.FloatField()

    class Meta:
        db_table = "djira_process"

    def __str__(self) -> str:
        return self.key


class Presence(models.Model):
    """A connection present in a room, as one server wrote it, until ``expires``
    (``djira.delivery.presence_stores``)."""

    #: The server (``LocalPresence.id``): several may run in one process.
    server = models.CharField(max_length=32)
    #: Digest of the room's stream key (observer uid and room), as the outbox's ``stream``.
    room = models.CharField(max_length=40)
    sid = models.CharField(max_length=64)
    #: ``{"id", "username"}``, JSON.
    member = models.TextField()
    #: Wall clock (``time.time()``) after which the row counts as gone.
    expires = models.FloatField()

    class Meta:
        db_table = "djira_presence"
        constraints = [
            models.UniqueConstraint(fields=["server", "room", "sid"], name="djira_presence_unique")
        ]
        indexes = [models.Index(fields=["room", "expires"], name="djira_presence_room")]

    def __str__(self) -> str:
        return f"{self.sid} in {self.room}"


class Stream(models.Model):
    """A room's stream: its epoch and last offset. Key ``""`` is the global sequence."""

    key = models.CharField(max_length=40, primary_key=True)
    epoch = models.CharField(max_length=16)
    top = models.BigIntegerField(default=0)

    class Meta:
        db_table = "djira_stream"

    def __str__(self) -> str:
        return f"stream {self.key or '(global)'} at {self.top}"
