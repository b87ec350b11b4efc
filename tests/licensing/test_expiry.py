"""The daily task: lapsed offers and ended licences expire, reminders go out once."""

import pytest
from celery.schedules import crontab
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.models import Notification
from rightsdesk.licensing.models import Licence, LicenceOffer
from rightsdesk.licensing.services import (
    licence_counter,
    licence_decline,
    licences_expire_and_remind,
)
from rightsdesk.licensing.tasks import licences_expire_task
from tests.licensing.conftest import accept, propose
from tests.licensing.factories import DAY, licence_terms


def _snapshot() -> tuple:
    return (
        list(Licence.objects.order_by("pk").values_list("status", flat=True)),
        LicenceOffer.objects.count(),
        AuditEvent.objects.count(),
        Notification.objects.count(),
    )


@pytest.mark.django_db
def test_offers_past_their_expiry_expire_once(deal):
    proposed = propose(deal, campaign="Proposed")
    countered = propose(deal, campaign="Countered")
    licence_counter(licence=countered, terms=licence_terms(), note="", actor=deal.users["talent"])
    still_open = propose(deal, campaign="Open", offer_expires_at=timezone.now() + 60 * DAY)
    later = proposed.offer_expires_at + DAY

    report = licences_expire_and_remind(now=later)

    assert report.offers_expired == 2
    statuses = dict(Licence.objects.values_list("campaign", "status"))
    assert statuses == {"Proposed": "expired", "Countered": "expired", "Open": "proposed"}
    expired = LicenceOffer.objects.get(licence=proposed, kind="expired")
    assert (expired.actor, expired.actor_role, expired.note) == (None, "system", "offer_expired")
    assert AuditEvent.objects.filter(action="licence.expired", target_id=str(proposed.public_id))
    assert still_open.offers.count() == 1

    before = _snapshot()
    assert licences_expire_and_remind(now=later).offers_expired == 0
    assert _snapshot() == before


@pytest.mark.django_db
def test_accepted_licences_past_their_end_expire_and_others_stay(deal):
    ended = accept(propose(deal, campaign="Ended"), deal.users["talent"])
    declined = propose(deal, campaign="Declined")
    licence_decline(licence=declined, note="", actor=deal.users["talent"])

    report = licences_expire_and_remind(now=ended.ends_at + DAY)

    assert report.licences_expired == 1
    assert Licence.objects.get(pk=ended.pk).status == "expired"
    assert Licence.objects.get(pk=declined.pk).status == "declined"
    assert LicenceOffer.objects.get(licence=ended, kind="expired").note == "term_ended"


@pytest.mark.django_db
def test_reminders_go_to_both_sides_at_30_7_and_1_days_and_only_once(deal):
    licence = accept(propose(deal), deal.users["talent"])
    expected = {deal.users[r].pk for r in ("legal_a", "talent", "agent")}

    def reminded(days: int) -> set[int]:
        key = f"licence:{licence.public_id}:ends:{days}"
        return set(Notification.objects.filter(dedupe_key=key).values_list("user", flat=True))

    for days_left, threshold in ((25, 30), (6, 7), (0.5, 1)):
        now = licence.ends_at - days_left * DAY
        first = licences_expire_and_remind(now=now)
        assert first.reminders_sent == len(expected)
        assert reminded(threshold) == expected
        before = _snapshot()
        assert licences_expire_and_remind(now=now).reminders_sent == 0
        assert _snapshot() == before

    # Nothing more than 30 days ahead.
    assert licences_expire_and_remind(now=licence.ends_at - 45 * DAY).reminders_sent == 0


@pytest.mark.django_db
def test_the_daily_task_runs_the_service(deal):
    propose(deal, offer_expires_at=timezone.now() + DAY)
    Licence.objects.update(offer_expires_at=timezone.now() - DAY)

    assert licences_expire_task() == {
        "offers_expired": 1,
        "licences_expired": 0,
        "reminders_sent": 0,
    }
    assert licences_expire_task()["offers_expired"] == 0


def test_the_task_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["expire-licences"]
    assert entry["task"] == "rightsdesk.licensing.tasks.licences_expire_task"
    # A crontab, not a 24-hour interval: an interval drifts with every beat restart.
    assert entry["schedule"] == crontab(hour=2, minute=10)
