"""On PostgreSQL the database itself refuses to change or remove audit events."""

import pytest
from django.db import IntegrityError, connection, transaction

from rightsdesk.audit.models import AuditEvent
from rightsdesk.audit.services import audit_record
from rightsdesk.audit.verify import verify_chain

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def event() -> AuditEvent:
    audit_record(actor=None, action="test.first", target=None, payload={"n": 1})
    return audit_record(actor=None, action="test.second", target=None, payload={"n": 2})


def _assert_untouched(event: AuditEvent) -> None:
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.payload_json, stored.hash) == (event.payload_json, event.hash)
    assert AuditEvent.objects.count() == 2
    assert verify_chain().intact


def _attempts(event: AuditEvent):
    def save_edited() -> None:
        event.payload_json = '{"n":99}'
        event.save()

    def raw(sql: str):
        def run() -> None:
            with connection.cursor() as cursor:
                cursor.execute(sql, [event.pk])

        return run

    return {
        "orm update": lambda: AuditEvent.objects.filter(pk=event.pk).update(action="forged"),
        "orm save": save_edited,
        "orm queryset delete": lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
        "orm instance delete": lambda: AuditEvent.objects.get(pk=event.pk).delete(),
        "raw update": raw("UPDATE audit_auditevent SET payload_json = '{}' WHERE id = %s"),
        "raw delete": raw("DELETE FROM audit_auditevent WHERE id = %s"),
    }


@pytest.mark.parametrize(
    "attempt",
    [
        "orm update",
        "orm save",
        "orm queryset delete",
        "orm instance delete",
        "raw update",
        "raw delete",
    ],
)
def test_trigger_refuses_update_and_delete_of_audit_events(event, attempt):
    original = AuditEvent.objects.get(pk=event.pk)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        _attempts(event)[attempt]()

    _assert_untouched(original)


def test_trigger_allows_appending(event):
    audit_record(actor=None, action="test.third", target=None, payload={})

    assert AuditEvent.objects.count() == 3
