"""PostgreSQL appends through ``audit_append()`` (audit migration 0003): the server numbers,
stamps and hashes the events, and must write exactly the hashes Python checks."""

import datetime
import itertools

import pytest
from django.db import connection, transaction

from rightsdesk.audit.canonical import GENESIS_HASH
from rightsdesk.audit.models import AuditChainHead, AuditEvent
from rightsdesk.audit.services import audit_deferred, audit_record
from rightsdesk.audit.verify import verify_chain
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

UTC = datetime.UTC


@pytest.mark.parametrize(
    "instant",
    [
        datetime.datetime(2026, 11, 29, 13, 57, 13, 0, tzinfo=UTC),
        datetime.datetime(2026, 11, 29, 13, 57, 13, 1, tzinfo=UTC),
        datetime.datetime(2026, 11, 29, 13, 57, 13, 431679, tzinfo=UTC),
        datetime.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime.datetime(
            2027, 1, 1, 1, 30, 0, 500000, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
        ),
    ],
)
def test_the_server_writes_an_instant_as_python_hashes_it(instant):
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_instant_text(%s)", [instant])
        (text,) = cursor.fetchone()

    assert text == instant.astimezone(UTC).isoformat()


def test_events_the_server_chains_carry_the_hashes_python_computes_from_their_rows():
    # given an actor whose label, and payloads whose text, need JSON's escapes
    actor = UserFactory(email='q"uote\\back@example.test')
    awkward = {
        "quote": 'say "cheese"',
        "lines": "one\ntwo\tthree\r",
        "control": "\x01\x1f",
        "nul": "a\x00b",
        "accents": "Zoë, Łódź, 東京",
        "astral": "\U0001f600",
    }

    # when one is appended alone and three together
    alone = audit_record(actor=actor, action="test.alone", target=None, payload=awkward)
    with transaction.atomic(), audit_deferred():
        held = [
            audit_record(actor=None, action=f"test.held.{n}", target=None, payload={"n": n})
            for n in range(3)
        ]

    # then every stored row hashes to its stored hash, links to the one before, and the
    # objects the callers hold carry what was stored
    stored = list(AuditEvent.objects.order_by("sequence"))
    assert [event.sequence for event in stored] == [1, 2, 3, 4]
    assert stored[0].prev_hash == GENESIS_HASH
    assert all(event.compute_hash() == event.hash for event in stored)
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(stored))
    for mine, row in zip([alone, *held], stored, strict=True):
        assert (mine.pk, mine.sequence, mine.created_at, mine.prev_hash, mine.hash) == (
            row.pk,
            row.sequence,
            row.created_at,
            row.prev_hash,
            row.hash,
        )
    assert stored[0].payload == awkward
    # events appended together share the server's instant, taken after the head's lock
    assert len({event.created_at for event in stored[1:]}) == 1
    assert stored[0].created_at <= stored[1].created_at
    head = AuditChainHead.objects.get()
    assert (head.last_sequence, head.last_hash) == (4, stored[-1].hash)
    assert verify_chain().intact


def test_an_append_is_one_statement(django_assert_num_queries):
    with django_assert_num_queries(1):
        audit_record(actor=None, action="test.one", target=None, payload={"n": 1})
    with transaction.atomic(), django_assert_num_queries(1), audit_deferred():
        for n in range(3):
            audit_record(actor=None, action="test.many", target=None, payload={"n": n})

    assert AuditChainHead.objects.get().last_sequence == 4
