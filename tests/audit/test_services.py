import datetime
import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction

from rightsdesk.audit.canonical import GENESIS_HASH
from rightsdesk.audit.models import AuditChainHead, AuditEvent
from rightsdesk.audit.services import audit_record
from rightsdesk.audit.verify import verify_chain
from tests.factories import TalentFactory, UserFactory


@pytest.mark.django_db
def test_events_link_to_the_previous_hash_and_hash_their_stored_fields():
    # given an actor and a target
    staff = UserFactory(role="staff", is_staff=True)
    talent = TalentFactory()

    # when three events are recorded
    first = audit_record(actor=staff, action="talent.created", target=talent, payload={"n": 1})
    second = audit_record(actor=None, action="system.tick", target=None, payload={})
    third = audit_record(actor=staff, action="talent.updated", target=talent, payload={"n": 3})

    # then they form one chain from the genesis hash, and each hash covers its stored row
    stored = list(AuditEvent.objects.order_by("sequence"))
    assert [e.sequence for e in stored] == [1, 2, 3]
    assert [e.pk for e in stored] == [first.pk, second.pk, third.pk]
    assert stored[0].prev_hash == GENESIS_HASH
    assert stored[1].prev_hash == stored[0].hash
    assert stored[2].prev_hash == stored[1].hash
    assert all(e.compute_hash() == e.hash for e in stored)
    head = AuditChainHead.objects.get()
    assert (head.last_sequence, head.last_hash) == (3, stored[2].hash)


@pytest.mark.django_db
def test_event_names_actor_and_target_by_public_id_or_pk():
    staff = UserFactory(role="staff", is_staff=True, email="ops@example.test")
    talent = TalentFactory()

    about_talent = audit_record(actor=staff, action="talent.viewed", target=talent, payload={})
    about_user = audit_record(actor=None, action="user.created", target=staff, payload={})

    assert (about_talent.actor_id, about_talent.actor_label) == (staff.pk, "ops@example.test")
    assert (about_talent.target_type, about_talent.target_id) == (
        "talent.talent",
        str(talent.public_id),
    )
    assert (about_user.actor_id, about_user.actor_label) == (None, "system")
    assert (about_user.target_type, about_user.target_id) == ("accounts.user", str(staff.pk))


@pytest.mark.django_db
def test_payload_is_stored_as_the_exact_canonical_text_and_reads_back_equal():
    payload = {
        "z": "ünïcode ✓",
        "a": {"y": [3, 1, 2], "b": None},
        "at": datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC),
        "id": uuid.UUID("00000000-0000-0000-0000-000000000042"),
        "amount": Decimal("0.10"),
    }

    event = audit_record(actor=None, action="test.payload", target=None, payload=payload)
    stored = AuditEvent.objects.get(pk=event.pk)

    expected_text = (
        '{"a":{"b":null,"y":[3,1,2]},"amount":"0.10",'
        '"at":"2026-01-02T03:04:05.000006+00:00",'
        '"id":"00000000-0000-0000-0000-000000000042","z":"ünïcode ✓"}'
    )
    assert stored.payload_json == expected_text
    assert stored.payload == {
        "a": {"b": None, "y": [3, 1, 2]},
        "amount": "0.10",
        "at": "2026-01-02T03:04:05.000006+00:00",
        "id": "00000000-0000-0000-0000-000000000042",
        "z": "ünïcode ✓",
    }
    assert stored.compute_hash() == stored.hash == event.hash


@pytest.mark.django_db
def test_unserialisable_payload_is_refused_and_nothing_is_written():
    audit_record(actor=None, action="test.first", target=None, payload={})

    with pytest.raises(TypeError):
        audit_record(actor=None, action="test.bad", target=None, payload={"x": object()})

    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.first"]
    assert AuditChainHead.objects.get().last_sequence == 1


@pytest.mark.django_db
def test_first_record_creates_the_chain_head_on_demand():
    # given no head row (transactional tests TRUNCATE it away)
    AuditChainHead.objects.all().delete()

    event = audit_record(actor=None, action="test.first", target=None, payload={})

    assert (event.sequence, event.prev_hash) == (1, GENESIS_HASH)
    assert AuditChainHead.objects.get().last_hash == event.hash


@pytest.mark.django_db(transaction=True)
def test_record_in_a_rolled_back_transaction_leaves_no_event_and_no_gap():
    # given one committed event
    audit_record(actor=None, action="test.kept", target=None, payload={})

    # when a transaction records an event and then fails
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=None, action="test.lost", target=None, payload={})
        raise RuntimeError("the caller's write failed")

    # then the event is gone and the next one takes its sequence number
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.kept"]
    after = audit_record(actor=None, action="test.next", target=None, payload={})
    assert after.sequence == 2
    assert verify_chain().intact


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_gapless_chain(capsys):
    threads_count, per_thread = 8, 25
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                audit_record(
                    actor=None, action="test.concurrent", target=None, payload={"t": number, "i": i}
                )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started

    assert errors == []
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, threads_count * per_thread + 1))
    payloads = {(e.payload["t"], e.payload["i"]) for e in AuditEvent.objects.all()}
    assert len(payloads) == threads_count * per_thread
    result = verify_chain()
    assert (result.intact, result.events_checked) == (True, threads_count * per_thread)
    with capsys.disabled():
        print(f"\n{threads_count * per_thread} concurrent audit_record calls in {elapsed:.3f}s")
