import uuid

from django.db import models


class TimeStampedModel(models.Model):
    """Base for domain rows: an integer key for joins, an opaque public id for URLs."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Notification(TimeStampedModel):
    """An in-app notice to one user; the same text is e-mailed through Django's backend."""

    # No index of its own: the (user, read_at) index leads with it.
    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="notices", db_index=False
    )
    kind = models.CharField(max_length=64)  # e.g. "agreement.expiring"
    subject = models.CharField(max_length=200)
    body = models.TextField()
    target_reference = models.CharField(max_length=80, blank=True)  # "agreement:<uuid>"
    # Reminders (30/7/1 days) are sent once: the dedupe key makes a rerun a no-op.
    dedupe_key = models.CharField(max_length=200, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # Failed e-mail attempts: the periodic resend stops at MAX_EMAIL_ATTEMPTS.
    email_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="notification_dedupe",
            )
        ]
        indexes = [
            models.Index(fields=["user", "read_at"]),
            # The periodic resend looks only at notices not e-mailed yet.
            models.Index(
                fields=["created_at"],
                condition=models.Q(emailed_at__isnull=True),
                name="notification_unsent",
            ),
        ]
