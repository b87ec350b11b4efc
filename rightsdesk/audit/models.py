"""The hash-chained audit log.

Every state change appends one AuditEvent in the same transaction as the change. Events
carry a gapless sequence number (1, 2, 3, ...) and the SHA-256 hash of their own fields
plus the previous event's hash; the first event's previous hash is 64 zeros. Editing,
deleting or reordering any row therefore breaks the hash of that row or the link from the
next one, and ``manage.py audit_verify`` names the first break.

Writers serialise on the single AuditChainHead row (SQLite's IMMEDIATE transactions
already serialise writers). The head holds the last sequence and hash, so verification can
tell a chain whose last events were deleted from an intact one. On PostgreSQL one
statement appends: ``audit_append()`` (migration 0003) locks the head, numbers, stamps and
hashes the events and moves the head, so the lock is held for no client round trip but
the commit; on SQLite appending is the head's read, one insert and the head's update.

On PostgreSQL a trigger refuses UPDATE and DELETE on the event table (migration 0002).
"""

import json
from typing import Any

from django.conf import settings
from django.db import models

from rightsdesk.audit.canonical import event_hash, event_middle

# What an event is made of: every stored field but the id, in the table's order.
EVENT_FIELDS = (
    "sequence",
    "created_at",
    "actor",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "payload_json",
    "prev_hash",
    "hash",
)


class AuditEvent(models.Model):
    sequence = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    # PROTECT: an audit event must keep naming who acted; users are deactivated instead.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    # The exact canonical JSON text that was hashed (never re-serialised; see canonical.py).
    payload_json = models.TextField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_event_target")]
        constraints = [
            models.CheckConstraint(condition=models.Q(sequence__gte=1), name="audit_sequence_gte_1")
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.target_type}:{self.target_id}"

    @property
    def payload(self) -> Any:
        return json.loads(self.payload_json)

    def compute_hash(self) -> str:
        """The hash this event's stored fields and previous hash should have."""
        return event_hash(
            sequence=self.sequence,
            created_at=self.created_at,
            prev_hash=self.prev_hash,
            **self._place_free_fields(),
        )

    def hashed_middle(self) -> str:
        """The part of the hashed text that does not depend on the event's place in the
        chain (PostgreSQL's ``audit_append()`` writes the rest around it)."""
        return event_middle(**self._place_free_fields())

    def _place_free_fields(self) -> dict[str, Any]:
        return {
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "payload_json": self.payload_json,
        }


class AuditChainHead(models.Model):
    """The one row writers lock to append; it also remembers where the chain ends."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single_row")
        ]

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_sequence}"
