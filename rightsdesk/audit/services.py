"""Appending to the audit chain (see models.py for how the chain works)."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from rightsdesk.audit.canonical import GENESIS_HASH, canonical_json
from rightsdesk.audit.models import EVENT_FIELDS, AuditChainHead, AuditEvent
from rightsdesk.core import rawsql

SYSTEM_LABEL = "system"

# Events recorded inside ``audit_deferred()``, not yet appended (None outside one).
_deferred: ContextVar[list[AuditEvent] | None] = ContextVar("audit_deferred", default=None)


def target_reference(target: models.Model | None) -> tuple[str, str]:
    """``("app_label.model", id)`` naming ``target``; its public_id when it has one."""
    if target is None:
        return "", ""
    meta = target._meta
    public_id = getattr(target, "public_id", None)
    return f"{meta.app_label}.{meta.model_name}", str(public_id or target.pk)


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # The head is made on demand, not by a migration: transactional tests TRUNCATE it.
        # ON CONFLICT DO NOTHING lets two first writers race safely; both then lock it.
        AuditChainHead.objects.bulk_create(
            [AuditChainHead(pk=1, last_sequence=0, last_hash=GENESIS_HASH)],
            ignore_conflicts=True,
        )
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None,
    payload: dict[str, Any],
    deferrable: bool = True,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction.

    Call it last in the transaction: the chain lock is held until commit, so every other
    writer waits for as long as the rest of the caller's transaction takes. Inside
    ``audit_deferred()`` the event is only held (unsaved, without its sequence yet) and is
    appended when the block ends, unless the caller needs its sequence now
    (``deferrable=False``).
    """
    target_type, target_id = target_reference(target)
    event = AuditEvent(
        actor=actor,
        actor_label=actor.get_username() if actor is not None else SYSTEM_LABEL,
        action=action,
        target_type=target_type,
        target_id=target_id,
        # Serialised outside the transaction: a payload that cannot be canonicalised raises
        # TypeError here and leaves the caller's transaction usable.
        payload_json=canonical_json(payload),
    )
    held = _deferred.get()
    if held is not None and deferrable:
        held.append(event)
        return event
    return _append(event)


@contextmanager
def audit_deferred() -> Iterator[None]:
    """Hold the events recorded in this block and append them together as it ends.

    The chain is then locked once, by the last statement of the block, instead of by
    the first event for the rest of the transaction: a render submission records three
    events between its licence and budget updates, and every other writer of the chain
    waited behind each of them. Use it inside the transaction whose changes the events
    describe. A nested block leaves the appending to the outermost one. Where a savepoint
    inside the block is rolled back and the error caught, drop what it recorded with
    ``audit_deferred_mark()`` and ``audit_deferred_discard()``.
    """
    if _deferred.get() is not None:
        yield
        return
    token = _deferred.set([])
    try:
        yield
        held = _deferred.get()
    finally:
        _deferred.reset(token)
    if held:
        _append_many(held)


def audit_deferred_mark() -> int:
    """How many events the current ``audit_deferred()`` block holds (0 outside one)."""
    held = _deferred.get()
    return len(held) if held is not None else 0


def audit_deferred_discard(mark: int) -> None:
    """Forget the events held since ``mark``: the savepoint they described rolled back."""
    held = _deferred.get()
    if held is not None:
        del held[mark:]


# No savepoint: a failure to append must abort the caller's whole transaction anyway, and
# SAVEPOINT/RELEASE would add two round trips to every state change.
@transaction.atomic(savepoint=False)
def _append(event: AuditEvent) -> AuditEvent:
    if connection.vendor == "postgresql":
        _append_postgresql([event])
        return event
    sequence, prev_hash = _head_locked()
    event.sequence = sequence + 1
    event.created_at = timezone.now()  # after the lock, so time never runs backwards
    event.prev_hash = prev_hash
    event.hash = event.compute_hash()
    rawsql.insert(event)
    rawsql.execute(_HEAD_UPDATE, [event.sequence, event.hash])
    return event


def _head_locked() -> tuple[int, str]:
    """On SQLite, the chain's last sequence and hash: the transaction already holds the
    database's write lock (PostgreSQL's ``audit_append()`` locks the head itself)."""
    rows = rawsql.fetch(_HEAD_READ)
    if rows:
        return rows[0]
    head = _locked_head()  # not made yet
    return head.last_sequence, head.last_hash


_HEAD_READ = "SELECT last_sequence, last_hash FROM audit_auditchainhead WHERE id = 1"
_HEAD_UPDATE = "UPDATE audit_auditchainhead SET last_sequence = %s, last_hash = %s WHERE id = 1"
_EVENT_COLUMNS = [AuditEvent._meta.get_field(name) for name in EVENT_FIELDS]
_EVENTS_INSERT = (
    "INSERT INTO audit_auditevent ("  # noqa: S608 - from the model
    + ", ".join(field.column for field in _EVENT_COLUMNS)
    + ")"
)
_EVENT_ROW = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
# audit migration 0003: locks the head, numbers, stamps and hashes the events, inserts
# them and moves the head; returns (id, sequence, created_at, prev_hash, hash) in order.
_APPEND_CALL = (
    "SELECT * FROM audit_append(%s::bigint[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::text[], %s::text[])"
)


@transaction.atomic(savepoint=False)
def _append_many(events: list[AuditEvent]) -> None:
    """Append ``events`` in order under one lock of the head: one insert for all. On
    PostgreSQL one statement, ``audit_append()``; on SQLite, whose transaction already
    holds the database's write lock, the head's read, one multi-row INSERT and the head's
    update."""
    if connection.vendor == "postgresql":
        _append_postgresql(events)
        return
    sequence, prev_hash = _head_locked()
    now = timezone.now()
    for event in events:
        sequence += 1
        event.sequence, event.created_at, event.prev_hash = sequence, now, prev_hash
        event.hash = prev_hash = event.compute_hash()
    rows = ", ".join([_EVENT_ROW] * len(events))
    values = [
        field.get_db_prep_save(getattr(event, field.attname), connection)
        for event in events
        for field in _EVENT_COLUMNS
    ]
    rawsql.execute(f"{_EVENTS_INSERT} VALUES {rows}", values)
    rawsql.execute(_HEAD_UPDATE, [sequence, prev_hash])


def _append_postgresql(events: list[AuditEvent]) -> None:
    """The server numbers, stamps and chains ``events`` while it holds the head: only the
    parts of their hashed text that do not depend on their place travel
    (``AuditEvent.hashed_middle``). The events get their id, sequence, time and hashes back."""
    middles = [event.hashed_middle() for event in events]
    array = rawsql.array
    params = [
        array([event.actor_id for event in events]),
        array([event.actor_label for event in events]),
        array([event.action for event in events]),
        array([event.target_type for event in events]),
        array([event.target_id for event in events]),
        array([event.payload_json for event in events]),
        array(middles),
    ]
    rows = rawsql.fetch(_APPEND_CALL, params)
    for event, (pk, sequence, created_at, prev_hash, digest) in zip(events, rows, strict=True):
        event.pk, event.sequence, event.created_at = pk, sequence, created_at
        event.prev_hash, event.hash = prev_hash, digest
        event._state.adding, event._state.db = False, connection.alias
