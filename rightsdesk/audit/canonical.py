"""The canonical forms that the audit chain hashes.

A payload is stored as the exact JSON text that went into the hash (sorted keys, no
whitespace, UTF-8 rather than escapes), so re-hashing reads the text back rather than
re-serialising a value a database or a library version might have reordered (``jsonb``
sorts keys its own way). An event's hash is SHA-256 over a JSON array of its fields in a
fixed order, ending with the previous event's hash.
"""

import datetime
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Any

GENESIS_HASH = "0" * 64


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        # Aware datetimes are normalised to UTC so the same instant always reads the same.
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        # str() keeps the exponent: Decimal("1.50") and Decimal("1.5") stay distinct.
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=canonical_json)
    raise TypeError(f"{type(value).__name__} cannot go into an audit payload")


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically; NaN and infinities are refused."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def event_middle(
    *,
    actor_id: int | None,
    actor_label: str,
    action: str,
    target_type: str,
    target_id: str,
    payload_json: str,
) -> str:
    """The part of an event's hashed array that does not depend on its place in the chain:
    the canonical JSON of its fields from ``actor_id`` to ``payload_json``, without the
    brackets. PostgreSQL's ``audit_append()`` (audit migration 0003) writes the sequence,
    the time and the previous hash around it exactly as ``event_hash`` does."""
    return canonical_json([actor_id, actor_label, action, target_type, target_id, payload_json])[
        1:-1
    ]


def event_hash(
    *, sequence: int, created_at: datetime.datetime, prev_hash: str, **fields: Any
) -> str:
    """SHA-256 hex digest of the canonical JSON array ``[sequence, created_at, actor_id,
    actor_label, action, target_type, target_id, payload_json, prev_hash]``; ``fields``
    are ``event_middle``'s."""
    middle = event_middle(**fields)
    stamped = canonical_json(created_at.astimezone(datetime.UTC).isoformat())
    text = f"[{canonical_json(sequence)},{stamped},{middle},{canonical_json(prev_hash)}]"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
