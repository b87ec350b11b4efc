import datetime

import pytest
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.errors import AlreadyWithdrawn, ConsentRequiresPrincipal
from rightsdesk.consent.hooks import off_withdrawal_effective, on_withdrawal_effective
from rightsdesk.consent.models import ConsentKind, CreationConsent, Withdrawal, WithdrawalApplied
from rightsdesk.consent.selectors import (
    consent_history_for_talent,
    creation_consent_in_force,
    licence_permission_status,
    withdrawals_for_target,
)
from rightsdesk.consent.services import withdrawal_create, withdrawals_apply_due
from rightsdesk.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from rightsdesk.core.models import Notification
from rightsdesk.licensing.models import Licence
from rightsdesk.talent.models import LikenessVersion
from tests.consent.conftest import NOTICE_DAYS, RUN_OFF_DAYS, add_usage, give
from tests.factories import LikenessVersionFactory

DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)


def _withdraw(target, actor, kind="contractual", reason="The campaign changed direction"):
    return withdrawal_create(target=target, kind=kind, reason=reason, actor=actor)


def _status(licence: Licence) -> str:
    return Licence.objects.values_list("status", flat=True).get(pk=licence.pk)


def _snapshot() -> dict:
    """Every consent and withdrawal row as stored, to prove nothing is edited."""
    return {
        "consents": list(CreationConsent.objects.order_by("pk").values()),
        "withdrawals": list(Withdrawal.objects.order_by("pk").values()),
        "applied": list(WithdrawalApplied.objects.order_by("pk").values()),
    }


def _nothing_written() -> tuple[int, int, int]:
    return Withdrawal.objects.count(), WithdrawalApplied.objects.count(), AuditEvent.objects.count()


# Timing


@pytest.mark.django_db
def test_a_contractual_withdrawal_takes_effect_after_the_notice_days_with_run_off(world, deal):
    talent = world.talent_a

    withdrawal = _withdraw(deal.licence, talent.user)

    assert withdrawal.effective_at == withdrawal.requested_at + NOTICE_DAYS * DAY
    assert withdrawal.run_off_until == withdrawal.effective_at + RUN_OFF_DAYS * DAY
    assert withdrawal.talent == talent and withdrawal.public_id.version == 4
    # The licence is untouched until the notice runs out.
    assert _status(deal.licence) == Licence.Status.ACCEPTED
    assert withdrawals_apply_due() == []
    assert withdrawals_apply_due(now=withdrawal.effective_at - SECOND) == []
    assert _status(deal.licence) == Licence.Status.ACCEPTED

    assert withdrawals_apply_due(now=withdrawal.effective_at) == [withdrawal]
    assert _status(deal.licence) == Licence.Status.WITHDRAWN
    assert _status(deal.licence_2) == Licence.Status.ACCEPTED


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["for_cause", "data_protection"])
def test_for_cause_and_data_protection_withdrawals_take_effect_at_once(world, deal, kind):
    withdrawal = _withdraw(deal.licence, world.talent_a.user, kind=kind)

    assert withdrawal.effective_at == withdrawal.requested_at
    assert withdrawal.run_off_until == withdrawal.effective_at + RUN_OFF_DAYS * DAY
    assert WithdrawalApplied.objects.filter(withdrawal=withdrawal).exists()
    assert _status(deal.licence) == Licence.Status.WITHDRAWN
    assert withdrawals_apply_due() == []


@pytest.mark.django_db
def test_the_licence_terms_are_not_edited_by_a_withdrawal(world, deal):
    terms = Licence.objects.filter(pk=deal.licence.pk).values().get()

    withdrawal = _withdraw(deal.licence, world.talent_a.user, kind="for_cause")

    after = Licence.objects.filter(pk=deal.licence.pk).values().get()
    changed = {k for k in terms if terms[k] != after[k]}
    assert changed == {"status", "updated_at"}
    assert AuditEvent.objects.filter(
        action="licence.withdrawn", target_id=str(deal.licence.public_id)
    ).get().payload == {"from": "accepted", "withdrawal": str(withdrawal.public_id)}


@pytest.mark.django_db
def test_a_consent_withdrawal_is_effective_at_once_without_run_off(world):
    talent = world.talent_a
    consent = give(talent=talent, actor=talent.user)

    withdrawal = _withdraw(consent, talent.user, kind="contractual")

    assert withdrawal.effective_at == withdrawal.run_off_until == withdrawal.requested_at
    assert creation_consent_in_force(talent=talent, kind=ConsentKind.CAPTURE) is None


# Who may withdraw


@pytest.mark.django_db
def test_an_agent_with_the_power_to_negotiate_withdraws_a_licence(world, deal):
    withdrawal = _withdraw(deal.licence, world.users["agent"])

    assert withdrawal.requested_by == world.users["agent"]
    event = AuditEvent.objects.get(action="withdrawal.created")
    assert event.payload["requested_role"] == "agent"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["legal", "campaign_manager", "agency_legal", "staff", "agent_b"])
def test_others_may_not_withdraw_a_licence(world, deal, role):
    before = _nothing_written()

    with pytest.raises(PermissionDenied):
        _withdraw(deal.licence, world.users[role])

    assert _nothing_written() == before
    assert _status(deal.licence) == Licence.Status.ACCEPTED


@pytest.mark.django_db
def test_an_agent_without_the_power_to_negotiate_may_not_withdraw(world, deal, powerless_agent):
    before = _nothing_written()

    with pytest.raises(PermissionDenied):
        _withdraw(deal.agreement, powerless_agent)

    assert _nothing_written() == before


@pytest.mark.django_db
def test_only_the_principal_withdraws_a_creation_consent(world):
    talent = world.talent_a
    consent = give(talent=talent, actor=talent.user, kind=ConsentKind.TRAIN, base_model="sd-1.5")
    before = _nothing_written()

    with pytest.raises(ConsentRequiresPrincipal):
        _withdraw(consent, world.users["agent"], kind="data_protection")

    assert _nothing_written() == before
    assert creation_consent_in_force(talent=talent, kind="train", base_model="sd-1.5") == consent


@pytest.mark.django_db
def test_a_guardian_withdraws_a_minors_consent_even_where_minors_are_no_longer_allowed(
    world, settings
):
    settings.RIGHTSDESK_ALLOW_MINORS = True
    consent = give(talent=world.minor_a, actor=world.users["guardian"])
    settings.RIGHTSDESK_ALLOW_MINORS = False

    withdrawal = _withdraw(consent, world.users["guardian"], kind="data_protection")

    assert withdrawal.creation_consent == consent


@pytest.mark.django_db
def test_a_licence_not_accepted_cannot_be_withdrawn(world, deal):
    before = _nothing_written()

    with pytest.raises(InvalidTransition):
        _withdraw(deal.proposed, world.talent_a.user)

    assert _nothing_written() == before


@pytest.mark.django_db
def test_a_withdrawal_needs_a_reason(world, deal):
    with pytest.raises(ValidationFailed):
        _withdraw(deal.licence, world.talent_a.user, reason="   ")


# A second withdrawal


@pytest.mark.django_db
def test_a_second_withdrawal_that_changes_nothing_is_refused(world, deal):
    first = _withdraw(deal.licence, world.talent_a.user)
    before = _nothing_written()

    with pytest.raises(AlreadyWithdrawn) as refused:
        _withdraw(deal.licence, world.users["agent"])

    assert refused.value.status == 409
    assert refused.value.extra["effective_at"] == first.effective_at.isoformat()
    assert _nothing_written() == before


@pytest.mark.django_db
def test_a_contractual_withdrawal_can_be_brought_forward_to_data_protection(world, deal):
    talent = world.talent_a
    contractual = _withdraw(deal.licence, talent.user)

    upgrade = _withdraw(deal.licence, talent.user, kind="data_protection")

    assert upgrade.effective_at < contractual.effective_at
    assert _status(deal.licence) == Licence.Status.WITHDRAWN
    assert list(withdrawals_for_target(target=deal.licence)) == [contractual, upgrade]
    with pytest.raises(AlreadyWithdrawn):
        _withdraw(deal.licence, talent.user, kind="for_cause")
    # When the contractual one's time comes it is applied too, and changes nothing more.
    assert withdrawals_apply_due(now=contractual.effective_at) == [contractual]
    assert AuditEvent.objects.filter(action="licence.withdrawn").count() == 1


@pytest.mark.django_db
def test_a_licence_covered_by_its_agreements_withdrawal_is_already_withdrawn(world, deal):
    _withdraw(deal.agreement, world.talent_a.user)

    with pytest.raises(AlreadyWithdrawn):
        _withdraw(deal.licence, world.talent_a.user)
    # ... unless the new one takes effect earlier.
    _withdraw(deal.licence, world.talent_a.user, kind="for_cause")
    assert _status(deal.licence) == Licence.Status.WITHDRAWN


# Agreements


@pytest.mark.django_db
def test_withdrawing_an_agreement_withdraws_all_its_licences_once_effective(world, deal):
    withdrawal = _withdraw(deal.agreement, world.users["agent"])
    live = [deal.licence, deal.licence_2, deal.proposed]

    assert [_status(licence) for licence in live] == ["accepted", "accepted", "proposed"]
    assert withdrawals_apply_due(now=withdrawal.effective_at - SECOND) == []

    assert withdrawals_apply_due(now=withdrawal.effective_at) == [withdrawal]
    assert {_status(licence) for licence in live} == {"withdrawn"}
    assert _status(deal.declined) == "declined"
    applied = AuditEvent.objects.get(action="withdrawal.applied")
    assert sorted(applied.payload["licences"]) == sorted(str(lic.public_id) for lic in live)


# Likeness


@pytest.mark.django_db
def test_withdrawing_train_retires_the_likenesses_on_that_base_model(world):
    talent = world.talent_a
    consent = give(talent=talent, actor=talent.user, kind=ConsentKind.TRAIN, base_model="sd-1.5")
    signed_off = LikenessVersionFactory(
        talent=talent, base_model="sd-1.5", status="signed_off", signed_off_at=timezone.now()
    )
    training = LikenessVersionFactory(talent=talent, base_model="sd-1.5", status="training")
    other_model = LikenessVersionFactory(
        talent=talent, base_model="sdxl", status="signed_off", signed_off_at=timezone.now()
    )
    other_talent = LikenessVersionFactory(base_model="sd-1.5", status="awaiting_signoff")

    withdrawal = _withdraw(consent, talent.user, kind="data_protection")

    statuses = dict(LikenessVersion.objects.values_list("pk", "status"))
    assert statuses[signed_off.pk] == statuses[training.pk] == "revoked"
    assert statuses[other_model.pk] == "signed_off"
    assert statuses[other_talent.pk] == "awaiting_signoff"
    revoked = AuditEvent.objects.filter(action="likeness.revoked").order_by("sequence")
    assert [e.target_id for e in revoked] == [str(signed_off.public_id), str(training.public_id)]
    assert revoked[0].payload == {"from": "signed_off", "withdrawal": str(withdrawal.public_id)}


@pytest.mark.django_db
def test_withdrawing_capture_leaves_the_likenesses_to_the_capture_hook(world):
    talent = world.talent_a
    consent = give(talent=talent, actor=talent.user)
    likeness = LikenessVersionFactory(talent=talent, base_model="sd-1.5", status="training")

    _withdraw(consent, talent.user, kind="data_protection")

    likeness.refresh_from_db()
    assert likeness.status == "training"


# History


@pytest.mark.django_db
def test_the_history_reads_back_in_order_and_nothing_is_ever_edited(world, deal):
    talent = world.talent_a
    capture = give(talent=talent, actor=talent.user)
    train = give(talent=talent, actor=talent.user, kind=ConsentKind.TRAIN, base_model="sd-1.5")
    licence_withdrawal = _withdraw(deal.licence, talent.user)
    before = _snapshot()

    train_withdrawal = _withdraw(train, talent.user, kind="data_protection")
    upgrade = _withdraw(deal.licence, talent.user, kind="for_cause")
    withdrawals_apply_due(now=licence_withdrawal.effective_at)
    again = give(talent=talent, actor=talent.user, kind=ConsentKind.TRAIN, base_model="sd-1.5")

    after = _snapshot()
    for table, rows in before.items():
        assert after[table][: len(rows)] == rows, f"{table} rows were edited"
    history = consent_history_for_talent(talent=talent)
    assert [(e.event, e.creation_consent, e.withdrawal) for e in history] == [
        ("given", capture, None),
        ("given", train, None),
        ("withdrawn", train, train_withdrawal),
        ("given", again, None),
    ]
    assert list(withdrawals_for_target(target=deal.licence)) == [licence_withdrawal, upgrade]
    assert creation_consent_in_force(talent=talent, kind="train", base_model="sd-1.5") == again


# Applying


@pytest.mark.django_db
def test_applying_twice_applies_each_withdrawal_once(world, deal):
    withdrawal = _withdraw(deal.agreement, world.talent_a.user)
    calls = []
    callback = on_withdrawal_effective(calls.append)
    try:
        later = withdrawal.effective_at + DAY
        assert withdrawals_apply_due(now=later) == [withdrawal]
        assert withdrawals_apply_due(now=later) == []
    finally:
        off_withdrawal_effective(callback)

    assert WithdrawalApplied.objects.filter(withdrawal=withdrawal).count() == 1
    assert AuditEvent.objects.filter(action="withdrawal.applied").count() == 1
    assert len(calls) == 1
    effect = calls[0]
    assert effect.withdrawal_id == withdrawal.pk and effect.agreement_id == deal.agreement.pk
    assert set(effect.licence_ids) == {
        deal.licence.pk,
        deal.licence_2.pk,
        deal.proposed.pk,
        deal.declined.pk,
    }


@pytest.mark.django_db
def test_a_failing_hook_rolls_the_application_back_and_the_next_run_retries(world, deal):
    withdrawal = _withdraw(deal.licence, world.talent_a.user)
    later = withdrawal.effective_at + SECOND

    def broken(effect):
        raise RuntimeError("render service down")

    on_withdrawal_effective(broken)
    try:
        assert withdrawals_apply_due(now=later) == []
    finally:
        off_withdrawal_effective(broken)
    assert not WithdrawalApplied.objects.exists()
    assert _status(deal.licence) == Licence.Status.ACCEPTED

    assert withdrawals_apply_due(now=later) == [withdrawal]
    assert _status(deal.licence) == Licence.Status.WITHDRAWN


@pytest.mark.django_db
def test_brand_legal_is_told_when_notice_is_given_and_when_it_takes_effect(world, deal):
    legal = world.users["legal"]
    other_legal = world.users["agency_legal"]

    withdrawal = _withdraw(deal.licence, world.talent_a.user)
    withdrawals_apply_due(now=withdrawal.effective_at)
    withdrawals_apply_due(now=withdrawal.effective_at + DAY)

    notices = Notification.objects.filter(user=legal).order_by("pk")
    assert [n.kind for n in notices] == ["withdrawal.requested", "withdrawal.effective"]
    assert all(n.target_reference == f"withdrawal:{withdrawal.public_id}" for n in notices)
    assert not Notification.objects.filter(user=other_legal).exists()
    assert not Notification.objects.filter(user=world.users["campaign_manager"]).exists()


# Permission status (verification)


@pytest.mark.django_db
def test_permission_status_runs_current_then_ending_then_ended(world, deal):
    licence = deal.licence
    withdrawal = _withdraw(licence, world.talent_a.user)
    effective, run_off = withdrawal.effective_at, withdrawal.run_off_until
    # The licence's own end lies beyond the run-off.
    Licence.objects.filter(pk=licence.pk).update(ends_at=run_off + 30 * DAY)
    licence.refresh_from_db()

    assert licence_permission_status(licence=licence, at=effective - SECOND) == (
        "current",
        effective,
    )
    assert licence_permission_status(licence=licence, at=effective) == ("ending", run_off)
    assert licence_permission_status(licence=licence, at=run_off - SECOND) == ("ending", run_off)
    assert licence_permission_status(licence=licence, at=run_off) == ("ended", run_off)
    assert licence_permission_status(licence=licence, at=run_off + 400 * DAY) == ("ended", run_off)


@pytest.mark.django_db
def test_permission_status_without_withdrawal_follows_the_usage_from_first_publication(world, deal):
    licence = deal.licence
    published = timezone.now()
    Licence.objects.filter(pk=licence.pk).update(first_published_at=published)
    add_usage(licence=licence, duration_days=30)
    add_usage(licence=licence, duration_days=365)
    licence.refresh_from_db()
    end = published + 365 * DAY

    assert licence_permission_status(licence=licence, at=published) == ("current", end)
    assert licence_permission_status(licence=licence, at=end) == ("ended", end)


@pytest.mark.django_db
def test_run_off_never_outlasts_the_licence_itself(world, deal):
    licence = deal.licence
    withdrawal = _withdraw(licence, world.talent_a.user, kind="for_cause")
    short_end = withdrawal.effective_at + 10 * DAY
    Licence.objects.filter(pk=licence.pk).update(ends_at=short_end)
    licence.refresh_from_db()

    assert licence_permission_status(licence=licence, at=withdrawal.effective_at) == (
        "ending",
        short_end,
    )
    assert licence_permission_status(licence=licence, at=short_end) == ("ended", short_end)


@pytest.mark.django_db
def test_a_licence_never_accepted_was_never_a_permission(world, deal):
    at = timezone.now()

    assert licence_permission_status(licence=deal.proposed, at=at) == ("ended", at)


@pytest.mark.django_db
def test_an_agreement_withdrawal_ends_the_permission_of_its_licences(world, deal):
    withdrawal = _withdraw(deal.agreement, world.talent_a.user, kind="data_protection")

    status = licence_permission_status(licence=deal.licence_2, at=withdrawal.effective_at)

    assert status == ("ending", withdrawal.run_off_until)
