"""Tampering with the chain directly in SQL, as someone with database access could.

These tests run on whichever backend is configured: SQLite has no trigger, and on
PostgreSQL the append-only trigger is first disabled, as the table owner or a superuser
could, so that the chain itself has to catch the change.
"""

import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import connection

from rightsdesk.audit.models import AuditEvent
from rightsdesk.audit.services import audit_record
from rightsdesk.audit.verify import (
    HASH_MISMATCH,
    HEAD_MISMATCH,
    PREVIOUS_HASH_MISMATCH,
    SEQUENCE_GAP,
    verify_chain,
)


@contextmanager
def tampering() -> Iterator:
    """A cursor that bypasses the PostgreSQL append-only trigger while it is open."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        try:
            yield cursor
        finally:
            if postgres:
                cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


@pytest.fixture
def chain() -> list[AuditEvent]:
    return [
        audit_record(actor=None, action="test.step", target=None, payload={"step": n})
        for n in range(1, 6)
    ]


def _verify_output() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_audit_verify_reports_an_intact_chain(chain):
    assert _verify_output() == "audit chain intact: 5 events"


@pytest.mark.django_db
def test_audit_verify_reports_an_empty_chain_as_intact():
    assert _verify_output() == "audit chain intact: 0 events"


@pytest.mark.django_db(transaction=True)
def test_audit_verify_exits_non_zero_naming_the_break(chain, capsys):
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence = 2")

    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "audit_verify"]).execute()

    assert exited.value.code == 1
    assert f"event #3 (id {chain[2].pk}): sequence gap" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_editing_a_payload_in_sql_breaks_that_events_hash(chain):
    with tampering() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET payload_json = %s WHERE sequence = 3", ['{"step":99}']
        )

    result = verify_chain()

    broken = result.first_break
    assert (broken.sequence, broken.event_id, broken.reason) == (3, chain[2].pk, HASH_MISMATCH)
    assert result.events_checked == 2
    with pytest.raises(CommandError, match=rf"event #3 \(id {chain[2].pk}\): hash mismatch"):
        call_command("audit_verify", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_editing_a_row_and_its_hash_breaks_the_link_from_the_next_event(chain):
    forged = AuditEvent.objects.get(sequence=3)
    forged.payload_json = '{"step":99}'
    forged_hash = forged.compute_hash()
    with tampering() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET payload_json = %s, hash = %s WHERE sequence = 3",
            [forged.payload_json, forged_hash],
        )

    broken = verify_chain().first_break

    assert (broken.sequence, broken.event_id, broken.reason) == (
        4,
        chain[3].pk,
        PREVIOUS_HASH_MISMATCH,
    )


@pytest.mark.django_db(transaction=True)
def test_deleting_a_row_in_sql_shows_as_a_sequence_gap_at_the_next_event(chain):
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence = 3")

    broken = verify_chain().first_break

    assert (broken.sequence, broken.event_id, broken.reason) == (4, chain[3].pk, SEQUENCE_GAP)
    with pytest.raises(CommandError, match=rf"event #4 \(id {chain[3].pk}\): sequence gap"):
        call_command("audit_verify", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_deleting_the_last_rows_in_sql_is_caught_by_the_chain_head(chain):
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence >= 4")

    broken = verify_chain().first_break

    assert (broken.sequence, broken.event_id, broken.reason) == (4, None, SEQUENCE_GAP)
    with pytest.raises(CommandError, match=r"event #4: sequence gap"):
        call_command("audit_verify", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_swapping_two_rows_sequence_numbers_breaks_the_link_at_the_first_moved_row(chain):
    with tampering() as cursor:
        _swap(cursor, 2, 4, columns=["sequence"])

    broken = verify_chain().first_break

    # Sequence 2 now holds the event written fourth, which links to #3, not to #1.
    assert (broken.sequence, broken.event_id, broken.reason) == (
        2,
        chain[3].pk,
        PREVIOUS_HASH_MISMATCH,
    )
    with pytest.raises(CommandError, match=rf"event #2 \(id {chain[3].pk}\)"):
        call_command("audit_verify", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_swapping_two_rows_positions_and_hashes_breaks_the_first_moved_rows_hash(chain):
    with tampering() as cursor:
        _swap(cursor, 2, 3, columns=["sequence", "prev_hash", "hash"])

    broken = verify_chain().first_break

    assert (broken.sequence, broken.event_id, broken.reason) == (2, chain[2].pk, HASH_MISMATCH)


def _swap(cursor, first: int, second: int, *, columns: list[str]) -> None:
    """Exchange ``columns`` (of sequence, prev_hash, hash) between two rows."""
    fields = ["sequence", "prev_hash", "hash"]
    rows = {}
    for sequence in (first, second):
        cursor.execute(
            "SELECT id, sequence, prev_hash, hash FROM audit_auditevent WHERE sequence = %s",
            [sequence],
        )
        row_id, *values = cursor.fetchone()
        rows[sequence] = (row_id, dict(zip(fields, values, strict=True)))
    # sequence and hash are unique: park both rows on free values first.
    for parked, (row_id, _) in enumerate(rows.values(), start=1_000_000):
        cursor.execute(
            "UPDATE audit_auditevent SET sequence = %s, hash = %s WHERE id = %s",
            [parked, f"parked-{parked}", row_id],
        )
    for this, other in ((first, second), (second, first)):
        row_id, own = rows[this]
        new = {f: rows[other][1][f] if f in columns else own[f] for f in fields}
        cursor.execute(
            "UPDATE audit_auditevent SET sequence = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [new["sequence"], new["prev_hash"], new["hash"], row_id],
        )


@pytest.mark.django_db(transaction=True)
def test_appending_a_forged_event_without_moving_the_head_is_caught(chain):
    forged = AuditEvent(
        sequence=6,
        created_at=chain[-1].created_at,
        actor_label="system",
        action="test.forged",
        payload_json="{}",
        prev_hash=chain[-1].hash,
    )
    forged.hash = forged.compute_hash()
    forged.save(force_insert=True)

    broken = verify_chain().first_break

    assert (broken.sequence, broken.event_id, broken.reason) == (6, forged.pk, HEAD_MISMATCH)
