import datetime

import pytest
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.errors import BaseModelRequired, ConsentRequiresPrincipal, NoticeMismatch
from rightsdesk.consent.models import ConsentKind, CreationConsent
from rightsdesk.consent.notices import consent_notice_current
from rightsdesk.core.errors import MinorNotAllowed, ValidationFailed
from tests.consent.conftest import give


def _counts() -> tuple[int, int]:
    return CreationConsent.objects.count(), AuditEvent.objects.count()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [ConsentKind.CAPTURE, ConsentKind.TRAIN])
def test_an_agent_with_every_power_cannot_consent_and_nothing_is_written(world, kind):
    # Given agency A's agent, whose representation grants every power there is
    representation = world.representation_a
    assert representation.can_negotiate_uses and representation.can_approve_outputs
    assert representation.can_view_earnings
    before = _counts()

    # When the agent tries to consent to capture or training for the talent
    with pytest.raises(ConsentRequiresPrincipal) as refused:
        give(talent=world.talent_a, actor=world.users["agent"], kind=kind, base_model="tiny-sd")

    # Then it is refused with 403 and nothing is recorded
    assert refused.value.code == "consent_requires_principal"
    assert refused.value.status == 403
    assert _counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", ["agency_legal", "legal", "campaign_manager", "staff", "agent_b", "guardian", "estate"]
)
def test_nobody_but_the_principal_may_consent(world, role):
    before = _counts()

    with pytest.raises(ConsentRequiresPrincipal):
        give(talent=world.talent_a, actor=world.users[role])

    assert _counts() == before


@pytest.mark.django_db
def test_the_adult_talent_consents_to_capture_with_the_evidence_recorded(world):
    talent = world.talent_a
    notice = consent_notice_current(kind=ConsentKind.CAPTURE, language="en")
    served_at = timezone.now() - datetime.timedelta(minutes=3)

    consent = give(talent=talent, actor=talent.user, served_at=served_at)

    assert consent.kind == ConsentKind.CAPTURE
    assert consent.given_by == talent.user and consent.given_role == "talent"
    assert consent.notice == notice and consent.notice_sha256 == notice.sha256
    assert consent.served_at == served_at and consent.answered_at >= served_at
    assert (consent.method, consent.ip_address, consent.user_agent) == (
        "web",
        "203.0.113.7",
        "pytest",
    )
    assert consent.public_id.version == 4
    event = AuditEvent.objects.get(action="creation_consent.given")
    payload = event.payload
    assert event.actor == talent.user and event.target_id == str(consent.public_id)
    assert payload["notice"]["sha256"] == notice.sha256
    assert payload["served_at"] == served_at.isoformat()
    assert payload["method"] == "web" and payload["given_role"] == "talent"
    assert len(payload["evidence_sha256"]) == 64
    assert "203.0.113.7" not in event.payload_json  # personal data stays off the chain


@pytest.mark.django_db
def test_a_guardian_consents_for_a_minor_where_minors_are_allowed(world, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = True

    consent = give(talent=world.minor_a, actor=world.users["guardian"])

    assert consent.given_role == "guardian" and consent.given_by == world.users["guardian"]


@pytest.mark.django_db
def test_a_minor_cannot_consent_on_their_own_account(world, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = True
    before = _counts()

    with pytest.raises(ConsentRequiresPrincipal) as refused:
        give(talent=world.minor_a, actor=world.users["minor"])

    assert "guardian" in refused.value.message
    assert _counts() == before


@pytest.mark.django_db
def test_even_a_guardian_is_refused_where_minors_are_not_allowed(world, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = False
    before = _counts()

    with pytest.raises(MinorNotAllowed):
        give(talent=world.minor_a, actor=world.users["guardian"])

    assert _counts() == before


@pytest.mark.django_db
def test_the_estate_consents_for_a_deceased_talent(world):
    consent = give(
        talent=world.deceased_a,
        actor=world.users["estate"],
        kind=ConsentKind.TRAIN,
        base_model="sd-1.5",
    )

    assert consent.given_role == "estate"


@pytest.mark.django_db
def test_a_training_consent_names_its_base_model(world):
    talent = world.talent_a
    before = _counts()

    with pytest.raises(BaseModelRequired):
        give(talent=talent, actor=talent.user, kind=ConsentKind.TRAIN, base_model="  ")
    assert _counts() == before

    consent = give(talent=talent, actor=talent.user, kind=ConsentKind.TRAIN, base_model="sd-1.5")
    assert consent.base_model == "sd-1.5"


@pytest.mark.django_db
def test_a_capture_consent_names_no_base_model(world):
    talent = world.talent_a

    with pytest.raises(ValidationFailed):
        give(talent=talent, actor=talent.user, kind=ConsentKind.CAPTURE, base_model="sd-1.5")


@pytest.mark.django_db
def test_answering_another_text_than_the_notice_is_refused(world):
    talent = world.talent_a
    before = _counts()

    with pytest.raises(NoticeMismatch) as refused:
        give(talent=talent, actor=talent.user, notice_sha256="0" * 64)

    assert refused.value.status == 409
    assert _counts() == before


@pytest.mark.django_db
def test_the_capture_notice_cannot_answer_for_training(world):
    talent = world.talent_a
    capture = consent_notice_current(kind=ConsentKind.CAPTURE)

    with pytest.raises(ValidationFailed):
        give(
            talent=talent,
            actor=talent.user,
            kind=ConsentKind.TRAIN,
            base_model="sd-1.5",
            notice=capture,
            notice_sha256=capture.sha256,
        )


@pytest.mark.django_db
def test_a_notice_served_in_the_future_is_refused(world):
    talent = world.talent_a

    with pytest.raises(ValidationFailed):
        give(
            talent=talent, actor=talent.user, served_at=timezone.now() + datetime.timedelta(hours=1)
        )
