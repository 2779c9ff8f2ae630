"""The database backend's table of idempotency keys (``djira.delivery.idempotency.database``)."""

from __future__ import annotations

from django.db import models


class IdempotencyKey(models.Model):
    """One idempotency key: claimed by a running request, then holding its reply."""

    #: SHA-256 of the scope (the user) and the client's key: a fixed width whatever the key.
    key = models.CharField(max_length=64, primary_key=True)
    #: The claiming request's random token: only it may store a reply or free the key.
    owner = models.CharField(max_length=32)
    #: SHA-256 of the request's content: the same key with other content is refused.
    fingerprint = models.CharField(max_length=64)
    #: The encoded ``{"status", "data"}`` of the first request; null while it runs.
    reply = models.TextField(null=True)  # noqa: DJ001 - null (running) differs from any reply
    #: Wall clock (``time.time()``) past which the claim or the reply is void, and trimmed.
    expires = models.FloatField()

    class Meta:
        db_table = "djira_idempotency"
        indexes = [models.Index(fields=["expires"], name="djira_idempotency_expires")]

    def __str__(self) -> str:
        return f"idempotency key {self.key[:12]}"
