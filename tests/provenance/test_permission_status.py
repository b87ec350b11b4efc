"""The card's permission status comes from one statement (selectors.permission_status_of);
it must answer exactly as consent's licence_permission_status, in every case."""

import datetime
import uuid

import pytest
from django.utils import timezone

from rightsdesk.agreements.models import Agreement
from rightsdesk.consent.selectors import licence_permission_status
from rightsdesk.consent.services import withdrawal_create
from rightsdesk.licensing.models import Licence
from rightsdesk.provenance.models import ProvenanceRecord
from rightsdesk.provenance.selectors import card_facts, permission_status_of
from rightsdesk.provenance.services import signing_credential_for
from tests.consent.conftest import add_usage

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def _record(licence: Licence) -> ProvenanceRecord:
    """A record as signing leaves it, without signing (only the status is under test)."""
    asset = uuid.uuid4()
    return ProvenanceRecord.objects.create(
        asset_reference=f"asset:{asset}",
        credential=signing_credential_for(),
        licence=licence,
        signed_file=f"provenance/{asset}.png",
        signed_sha256="0" * 64,
        manifest_label=f"urn:c2pa:{uuid.uuid4()}",
        manifest={},
        width=8,
        height=8,
        watermark_payload=1,
        perceptual_hash=2,
        phash_q0=0,
        phash_q1=0,
        phash_q2=0,
        phash_q3=2,
        approved_exact_image=True,
        brand_name="Brand",
        commitment="sha256:" + "0" * 64,
    )


def _assert_same_answers(licence: Licence, moments: list[datetime.datetime]) -> None:
    record = _record(licence)
    facts = card_facts(asset_reference=record.asset_reference)
    licence.refresh_from_db()
    for at in moments:
        assert permission_status_of(facts=facts, at=at) == licence_permission_status(
            licence=licence, at=at
        ), at


def _around(*instants: datetime.datetime) -> list[datetime.datetime]:
    second = datetime.timedelta(seconds=1)
    return [t + d for t in instants for d in (-second, 0 * second, second, 400 * DAY)]


def test_same_answer_for_an_accepted_licence_without_withdrawal(deal):
    _assert_same_answers(deal.licence, _around(timezone.now(), deal.licence.ends_at))


def test_same_answer_once_published_with_usage_rows(deal):
    published = timezone.now()
    Licence.objects.filter(pk=deal.licence.pk).update(first_published_at=published)
    add_usage(licence=deal.licence, duration_days=30)
    add_usage(licence=deal.licence, duration_days=365)

    _assert_same_answers(deal.licence, _around(published, published + 365 * DAY))


@pytest.mark.parametrize("kind", ["contractual", "for_cause"])
def test_same_answer_through_a_withdrawal_and_its_run_off(deal, world, kind):
    withdrawal = withdrawal_create(
        target=deal.licence, kind=kind, reason="Changed course", actor=world.talent_a.user
    )

    _assert_same_answers(
        deal.licence,
        _around(withdrawal.effective_at, withdrawal.run_off_until, deal.licence.ends_at),
    )


def test_same_answer_when_the_agreement_is_withdrawn(deal, world):
    withdrawal = withdrawal_create(
        target=deal.agreement, kind="for_cause", reason="Changed course", actor=world.talent_a.user
    )

    _assert_same_answers(deal.licence_2, _around(withdrawal.effective_at, withdrawal.run_off_until))


def test_same_answer_when_the_agreement_was_terminated(deal):
    terminated = timezone.now() + 5 * DAY
    Agreement.objects.filter(pk=deal.agreement.pk).update(terminated_at=terminated)

    _assert_same_answers(deal.licence, _around(terminated))


def test_same_answer_for_a_licence_never_accepted(deal):
    _assert_same_answers(deal.proposed, _around(timezone.now()))


def test_same_answer_for_a_licence_withdrawn_without_a_withdrawal_row(deal):
    Licence.objects.filter(pk=deal.licence.pk).update(status=Licence.Status.WITHDRAWN)

    _assert_same_answers(deal.licence, _around(timezone.now()))
