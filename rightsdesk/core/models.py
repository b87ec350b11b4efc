import uuid

from django.db import models


class TimeStampedModel(models.Model):
    """Base for domain rows: an integer key for joins, an opaque public id for URLs."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
