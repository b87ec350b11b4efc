import datetime
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.errors import (
    CommissionAboveCap,
    GuardianRequired,
    MinorNotAllowed,
    NotPrincipal,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.talent.errors import RepresentationOverlaps, TalentAlreadyDeceased
from rightsdesk.talent.models import Representation, Talent, TalentProxy
from rightsdesk.talent.services import (
    agent_has_power,
    ensure_principal,
    representation_create,
    representation_end,
    talent_create,
    talent_mark_deceased,
    talent_principal_users,
    talent_proxy_add,
)
from tests.factories import AgencyFactory, RepresentationFactory, TalentFactory, UserFactory
from tests.talent.conftest import years_ago

SHA = "ab" * 32


def _counts() -> tuple[int, int, int, int]:
    return (
        Talent.objects.count(),
        TalentProxy.objects.count(),
        Representation.objects.count(),
        AuditEvent.objects.count(),
    )


# Minors


@pytest.mark.django_db
def test_a_minor_is_refused_when_the_instance_does_not_allow_minors(settings, staff_user):
    settings.RIGHTSDESK_ALLOW_MINORS = False
    guardian = UserFactory(role="guardian")
    before = _counts()

    with pytest.raises(MinorNotAllowed) as refused:
        talent_create(
            legal_name="Young Person",
            date_of_birth=years_ago(16),
            jurisdiction="fr",
            guardian=guardian,
            guardian_authority_document_sha256=SHA,
            actor=staff_user,
        )

    assert refused.value.code == "minor_not_allowed"
    assert _counts() == before


@pytest.mark.django_db
def test_a_minor_needs_a_guardian_even_where_minors_are_allowed(settings, staff_user):
    settings.RIGHTSDESK_ALLOW_MINORS = True
    before = _counts()

    with pytest.raises(GuardianRequired):
        talent_create(
            legal_name="Young Person",
            date_of_birth=years_ago(16),
            jurisdiction="FR",
            actor=staff_user,
        )

    assert _counts() == before


@pytest.mark.django_db
def test_a_minor_with_a_guardian_is_registered_where_minors_are_allowed(settings, staff_user):
    settings.RIGHTSDESK_ALLOW_MINORS = True
    guardian = UserFactory(role="guardian")
    minor_account = UserFactory(role="talent")

    talent = talent_create(
        legal_name="Young Person",
        date_of_birth=years_ago(16),
        jurisdiction="fr",
        user=minor_account,
        guardian=guardian,
        guardian_authority_document_sha256=SHA.upper(),
        actor=staff_user,
    )

    assert talent.jurisdiction == "FR"
    assert talent.is_minor()
    proxy = TalentProxy.objects.get(talent=talent)
    assert (proxy.user, proxy.kind, proxy.authority_document_sha256) == (guardian, "guardian", SHA)
    assert talent_principal_users(talent=talent) == [guardian]
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["talent.created", "talent.proxy_added"]
    assert "Young Person" not in "".join(AuditEvent.objects.values_list("payload_json", flat=True))


@pytest.mark.django_db
def test_an_adult_is_registered_without_a_guardian(staff_user):
    talent = talent_create(
        legal_name="Grown Up", date_of_birth=years_ago(30), jurisdiction="GB", actor=staff_user
    )
    assert not talent.is_minor()
    assert not TalentProxy.objects.filter(talent=talent).exists()


@pytest.mark.django_db
def test_a_guardian_for_an_adult_is_refused(staff_user):
    before = _counts()
    with pytest.raises(ValidationFailed):
        talent_create(
            legal_name="Grown Up",
            date_of_birth=years_ago(30),
            jurisdiction="GB",
            guardian=UserFactory(role="guardian"),
            guardian_authority_document_sha256=SHA,
            actor=staff_user,
        )
    assert _counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("jurisdiction", ["France", "", "U1"])
def test_a_malformed_jurisdiction_is_refused(staff_user, jurisdiction):
    with pytest.raises(ValidationFailed):
        talent_create(
            legal_name="X", date_of_birth=years_ago(30), jurisdiction=jurisdiction, actor=staff_user
        )


@pytest.mark.parametrize(
    "jurisdiction, minor_on_18th, minor_on_19th",
    [("US-NY", False, False), ("FR", False, False), ("US-AL", True, False), ("KR", True, False)],
)
def test_minor_status_changes_on_the_birthday_of_majority(
    jurisdiction, minor_on_18th, minor_on_19th
):
    born = datetime.date(2008, 6, 15)
    talent = Talent(date_of_birth=born, jurisdiction=jurisdiction)
    assert talent.is_minor(on=datetime.date(2026, 6, 14))
    assert talent.is_minor(on=datetime.date(2026, 6, 15)) is minor_on_18th
    assert talent.is_minor(on=datetime.date(2027, 6, 14)) is minor_on_18th
    assert talent.is_minor(on=datetime.date(2027, 6, 15)) is minor_on_19th


@pytest.mark.django_db
@pytest.mark.parametrize("jurisdiction, majority", [("US-NY", 18), ("US-AL", 19)])
def test_the_principal_passes_from_guardian_to_talent_on_the_birthday(
    world, jurisdiction, majority
):
    minor = world.minor_a
    guardian = world.users["guardian"]
    # The talent comes of age in ten days in this jurisdiction.
    minor.date_of_birth = years_ago(majority, days=10)
    minor.jurisdiction = jurisdiction
    minor.save()
    now = timezone.now()
    eve = now + datetime.timedelta(days=9)
    birthday = now + datetime.timedelta(days=10, hours=1)

    assert talent_principal_users(talent=minor, at=eve) == [guardian]
    assert talent_principal_users(talent=minor, at=birthday) == [minor.user]
    # Turning 18 changes nothing in Alabama, where majority is 19.
    minor.date_of_birth = years_ago(18, days=10)
    minor.save()
    expected = [guardian] if jurisdiction == "US-AL" else [minor.user]
    assert talent_principal_users(talent=minor, at=birthday) == expected


# Principals


@pytest.mark.django_db
def test_only_principals_pass_ensure_principal(world):
    ensure_principal(user=world.users["talent"], talent=world.talent_a)
    ensure_principal(user=world.users["guardian"], talent=world.minor_a)
    ensure_principal(user=world.users["estate"], talent=world.deceased_a)

    refusals = [
        (world.users["agent"], world.talent_a),
        (world.users["agency_legal"], world.talent_a),
        (world.users["legal"], world.talent_a),
        (world.users["campaign_manager"], world.talent_a),
        (world.users["staff"], world.talent_a),
        (world.users["minor"], world.minor_a),  # a guardian acts for a minor
        (world.users["guardian"], world.talent_a),
        (world.users["estate"], world.talent_a),
        (world.users["talent"], world.talent_b),
    ]
    for user, talent in refusals:
        with pytest.raises(NotPrincipal) as refused:
            ensure_principal(user=user, talent=talent)
        assert refused.value.code == "not_principal"


@pytest.mark.django_db
def test_an_ended_guardianship_no_longer_makes_a_principal(world):
    proxy = TalentProxy.objects.get(talent=world.minor_a)
    proxy.valid_to = timezone.now() - datetime.timedelta(seconds=1)
    proxy.save()
    assert talent_principal_users(talent=world.minor_a) == []
    with pytest.raises(NotPrincipal):
        ensure_principal(user=world.users["guardian"], talent=world.minor_a)


@pytest.mark.django_db
def test_a_deceased_talents_estate_takes_over_with_its_authority_document(
    staff_user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    talent = TalentFactory()
    estate = UserFactory(role="estate")
    document = SimpleUploadedFile("letters-testamentary.pdf", b"%PDF-1.7 letters")

    talent_mark_deceased(
        talent=talent, estate=estate, authority_document=document, actor=staff_user
    )

    talent.refresh_from_db()
    talent.user.refresh_from_db()
    assert talent.deceased
    assert not talent.user.is_active  # nobody acts in the deceased talent's name
    proxy = TalentProxy.objects.get(talent=talent, kind="estate")
    assert proxy.authority_document_sha256 == hashlib.sha256(b"%PDF-1.7 letters").hexdigest()
    assert talent_principal_users(talent=talent) == [estate]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"talent.marked_deceased", "talent.proxy_added", "user.deactivated"} <= actions


@pytest.mark.django_db
def test_marking_deceased_needs_the_authority_documents_hash(staff_user):
    talent = TalentFactory()
    before = _counts()
    with pytest.raises(ValidationFailed):
        talent_mark_deceased(
            talent=talent,
            estate=UserFactory(role="estate"),
            authority_document_sha256="not-a-hash",
            actor=staff_user,
        )
    talent.refresh_from_db()
    assert not talent.deceased
    assert _counts() == before


@pytest.mark.django_db
def test_a_talent_dies_once(world, staff_user):
    with pytest.raises(TalentAlreadyDeceased):
        talent_mark_deceased(
            talent=world.deceased_a,
            estate=UserFactory(role="estate"),
            authority_document_sha256=SHA,
            actor=staff_user,
        )


@pytest.mark.django_db
@pytest.mark.parametrize("kind, role", [("guardian", "estate"), ("estate", "guardian")])
def test_a_proxy_must_hold_the_matching_role(world, staff_user, kind, role):
    talent = world.minor_a if kind == "guardian" else world.deceased_a
    with pytest.raises(ValidationFailed):
        talent_proxy_add(
            talent=talent,
            user=UserFactory(role=role),
            kind=kind,
            authority_document_sha256=SHA,
            actor=staff_user,
        )


@pytest.mark.django_db
def test_an_estate_is_refused_for_a_living_talent(world, staff_user):
    with pytest.raises(ValidationFailed):
        talent_proxy_add(
            talent=world.talent_a,
            user=UserFactory(role="estate"),
            kind="estate",
            authority_document_sha256=SHA,
            actor=staff_user,
        )


@pytest.mark.django_db
def test_a_document_that_does_not_match_its_claimed_hash_is_refused(
    world, staff_user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(ValidationFailed):
        talent_proxy_add(
            talent=world.deceased_a,
            user=UserFactory(role="estate"),
            kind="estate",
            authority_document=SimpleUploadedFile("will.pdf", b"will"),
            authority_document_sha256=SHA,
            actor=staff_user,
        )


# Representations and powers


@pytest.mark.django_db
def test_commission_above_the_cap_is_refused_and_nothing_is_written(staff_user):
    talent, agency = TalentFactory(), AgencyFactory()
    before = _counts()

    with pytest.raises(CommissionAboveCap) as refused:
        representation_create(talent=talent, agency=agency, commission_bps=2001, actor=staff_user)

    assert refused.value.code == "commission_above_cap"
    assert refused.value.extra == {"commission_bps": 2001, "cap_bps": 2000}
    assert _counts() == before


@pytest.mark.django_db
def test_commission_at_the_cap_is_accepted(staff_user):
    representation = representation_create(
        talent=TalentFactory(),
        agency=AgencyFactory(),
        commission_bps=2000,
        powers={"negotiate"},
        actor=staff_user,
    )
    assert representation.commission_bps == 2000
    assert representation.can_negotiate_uses and not representation.can_approve_outputs
    event = AuditEvent.objects.get(action="representation.created")
    assert event.payload["powers"] == ["negotiate"]


@pytest.mark.django_db
def test_the_cap_follows_the_setting(settings, staff_user):
    settings.RIGHTSDESK_MAX_COMMISSION_BPS = 1500
    with pytest.raises(CommissionAboveCap):
        representation_create(
            talent=TalentFactory(), agency=AgencyFactory(), commission_bps=1600, actor=staff_user
        )


@pytest.mark.django_db
def test_a_mother_agency_share_needs_a_mother_agency(staff_user):
    with pytest.raises(ValidationFailed):
        representation_create(
            talent=TalentFactory(),
            agency=AgencyFactory(),
            commission_bps=1000,
            mother_agency_share_bps=2000,
            actor=staff_user,
        )


@pytest.mark.django_db
def test_a_brand_cannot_represent_a_talent(world, staff_user):
    with pytest.raises(ValidationFailed):
        representation_create(
            talent=world.talent_b, agency=world.brand, commission_bps=1000, actor=staff_user
        )


@pytest.mark.django_db
def test_an_agent_records_mandates_only_for_their_own_agency(world):
    before = _counts()
    with pytest.raises(PermissionDenied):
        representation_create(
            talent=world.talent_b,
            agency=world.agency_b,
            commission_bps=1000,
            actor=world.users["agent"],
        )
    assert _counts() == before


@pytest.mark.django_db
def test_a_later_mandate_after_the_first_ends_is_not_an_overlap(world, staff_user):
    end = timezone.now() + datetime.timedelta(days=30)
    representation_end(
        representation=world.representation_a, ended_at=end, actor=world.users["agent"]
    )
    with pytest.raises(RepresentationOverlaps):
        representation_create(
            talent=world.talent_a,
            agency=world.agency_a,
            commission_bps=1000,
            valid_from=end - datetime.timedelta(days=1),
            actor=staff_user,
        )
    renewed = representation_create(
        talent=world.talent_a,
        agency=world.agency_a,
        commission_bps=1000,
        valid_from=end,
        actor=staff_user,
    )
    assert renewed.valid_from == end


@pytest.mark.django_db
def test_agent_powers_follow_the_current_representation(world):
    agent = world.users["agent"]
    world.representation_a.can_view_earnings = False
    world.representation_a.save()

    assert agent_has_power(user=agent, talent=world.talent_a, power="negotiate")
    assert agent_has_power(user=agent, talent=world.talent_a, power="approve_outputs")
    assert not agent_has_power(user=agent, talent=world.talent_a, power="view_earnings")
    assert not agent_has_power(
        user=world.users["agent_b"], talent=world.talent_a, power="negotiate"
    )
    assert not agent_has_power(
        user=world.users["agency_legal"], talent=world.talent_a, power="negotiate"
    )
    later = timezone.now() + datetime.timedelta(days=2)
    representation_end(
        representation=world.representation_a,
        ended_at=timezone.now() + datetime.timedelta(days=1),
        actor=agent,
    )
    assert agent_has_power(user=agent, talent=world.talent_a, power="negotiate")
    assert not agent_has_power(user=agent, talent=world.talent_a, power="negotiate", at=later)
    with pytest.raises(ValueError):
        agent_has_power(user=agent, talent=world.talent_a, power="consent_to_training")


@pytest.mark.django_db
def test_a_mother_agency_holds_no_powers(world):
    mother = AgencyFactory()
    mother_agent = UserFactory(role="agent", organization=mother)
    RepresentationFactory(
        talent=TalentFactory(), agency=world.agency_b, mother_agency=mother, commission_bps=1000
    )
    talent = Representation.objects.get(mother_agency=mother).talent
    assert not agent_has_power(user=mother_agent, talent=talent, power="negotiate")


@pytest.mark.django_db
def test_a_stranger_cannot_end_a_representation(world):
    with pytest.raises(PermissionDenied):
        representation_end(representation=world.representation_a, actor=world.users["agent_b"])
    world.representation_a.refresh_from_db()
    assert world.representation_a.valid_to is None
