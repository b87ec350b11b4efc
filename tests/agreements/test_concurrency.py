"""Signatures racing each other on PostgreSQL: the agreement row lock serialises them."""

import threading

import pytest
from django.db import connection

from rightsdesk.agreements.models import AgreementVersion
from rightsdesk.audit.models import AuditEvent
from tests.agreements.conftest import draft, sign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list = []

    def run(call):
        try:
            barrier.wait()
            call()
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(getattr(exc, "code", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_the_last_two_signatures_at_once_activate_the_version_once(world):
    version = draft(world).versions.get()

    outcomes = race(
        lambda: sign(version, world.users["talent"]), lambda: sign(version, world.users["legal"])
    )

    assert outcomes == ["ok", "ok"]
    version.refresh_from_db()
    assert version.status == AgreementVersion.Status.ACTIVE
    assert AuditEvent.objects.filter(action="agreement.version_activated").count() == 1


def test_the_talent_and_the_agent_signing_at_once_make_one_principal_signature(world):
    version = draft(world).versions.get()

    outcomes = race(
        lambda: sign(version, world.users["talent"]), lambda: sign(version, world.users["agent"])
    )

    assert outcomes == ["already_signed", "ok"]
    assert version.signatures.filter(party="principal").count() == 1
