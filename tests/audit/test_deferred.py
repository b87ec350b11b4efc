"""Events held by ``audit_deferred()`` are appended together as the block ends: in the
order they were recorded, linked into the one chain, and never when the block fails or
when the savepoint they described rolled back."""

import pytest
from django.db import transaction

from rightsdesk.audit.models import AuditEvent
from rightsdesk.audit.services import (
    audit_deferred,
    audit_deferred_discard,
    audit_deferred_mark,
    audit_record,
)
from rightsdesk.audit.verify import verify_chain

pytestmark = pytest.mark.django_db


def record(action: str, **kwargs):
    return audit_record(actor=None, action=action, target=None, payload={"n": action}, **kwargs)


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))


def test_held_events_are_appended_at_the_end_in_order_and_the_chain_holds():
    record("before")

    with transaction.atomic(), audit_deferred():
        first = record("one")
        record("two")
        # Held, not written yet: no sequence, nothing new in the table
        assert first.sequence is None and actions() == ["before"]
        record("three")

    assert actions() == ["before", "one", "two", "three"]
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == [1, 2, 3, 4]
    result = verify_chain()
    assert result.first_break is None and result.events_checked == 4


def test_a_block_that_fails_appends_nothing():
    with pytest.raises(RuntimeError), transaction.atomic(), audit_deferred():
        record("lost")
        raise RuntimeError("the change failed")

    assert actions() == []
    with transaction.atomic(), audit_deferred():
        record("next")
    assert list(AuditEvent.objects.values_list("sequence", flat=True)) == [1]  # no gap


def test_what_a_rolled_back_savepoint_recorded_is_discarded():
    with transaction.atomic(), audit_deferred():
        record("kept")
        mark = audit_deferred_mark()
        try:
            with transaction.atomic():
                record("undone")
                raise ValueError("refused")
        except ValueError:
            audit_deferred_discard(mark)
        record("after")

    assert actions() == ["kept", "after"]
    assert verify_chain().first_break is None


def test_a_nested_block_leaves_the_appending_to_the_outer_one():
    with transaction.atomic(), audit_deferred():
        record("outer")
        with audit_deferred():
            record("inner")
        assert actions() == []  # the inner block's end appended nothing
        record("last")

    assert actions() == ["outer", "inner", "last"]


def test_an_event_whose_sequence_is_needed_now_is_appended_at_once():
    with transaction.atomic(), audit_deferred():
        record("held")
        now = record("now", deferrable=False)
        assert now.sequence == 1 and actions() == ["now"]

    assert actions() == ["now", "held"]
    assert verify_chain().first_break is None


def test_outside_a_block_nothing_is_held():
    assert audit_deferred_mark() == 0
    audit_deferred_discard(0)  # a no-op outside a block
    event = record("plain")
    assert event.sequence == 1 and actions() == ["plain"]
