"""Drafting, signing, amending and terminating agreements."""

import json

import pytest

from rightsdesk.agreements import hooks
from rightsdesk.agreements.models import (
    Agreement,
    AgreementVersion,
    CategoryPolicy,
    Exclusivity,
    Signature,
)
from rightsdesk.agreements.services import agreement_amend, agreement_terminate
from rightsdesk.agreements.terms import ExclusivityTerm, content_sha256
from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.errors import ApplicationError
from rightsdesk.core.models import Notification
from rightsdesk.core.vocab import TerritorySpec
from tests.agreements.conftest import DAY, document, draft, make_terms, sha256_hex, sign
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Status = AgreementVersion.Status


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))


def refused(code: str, call, *args, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.as_dict()
    return caught.value


# --- drafting -------------------------------------------------------------------------------


def test_drafting_creates_version_one_awaiting_signatures_with_its_terms(world):
    agreement = draft(world)

    version = agreement.versions.get()
    assert agreement.status == Agreement.Status.DRAFT
    assert agreement.agency == world.agency_a  # the talent's representing agency
    assert (version.number, version.status) == (1, Status.AWAITING_SIGNATURES)
    assert version.document_sha256 == sha256_hex(b"%PDF-1.7 the agreement")
    assert version.content_sha256 == content_sha256(
        document_sha256=version.document_sha256, terms_json=version.terms_json
    )
    assert dict(version.category_policies.values_list("category__slug", "policy")) == {
        "fragrance": "allowed",
        "lingerie": "never",
    }
    exclusivity = version.exclusivities.get()
    assert exclusivity.territories == {"include": ["EU"], "exclude": ["FR"]}
    assert "DE" in exclusivity.territory_codes and "FR" not in exclusivity.territory_codes
    assert actions() == ["agreement.created"]


def test_the_signed_hash_covers_the_document_and_canonical_terms(world):
    version = draft(world).versions.get()
    terms = json.loads(version.terms_json)

    assert version.terms_json == json.dumps(
        terms, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert terms["effective_to"].endswith("+00:00")
    expected = sha256_hex(f"{version.document_sha256}\n{version.terms_json}".encode())
    assert version.content_sha256 == expected
    # The same terms with the policies given in another order hash the same.
    reordered = make_terms(category_policies={"lingerie": "never", "fragrance": "allowed"})
    assert reordered.terms_json() == make_terms().terms_json()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"max_licence_term_days": 3651}, "licence_term_above_cap"),
        ({"category_policies": {"adult_content": "allowed"}}, "category_globally_never"),
        ({"category_policies": {"minors": "with_approval"}}, "category_globally_never"),
        ({"category_policies": {"spaceships": "allowed"}}, "validation_error"),
        ({"client_agency_fee_bps": 10001}, "validation_error"),
        ({"jurisdiction": "not a place"}, "validation_error"),
    ],
)
def test_terms_outside_the_rules_are_refused_and_nothing_is_stored(world, overrides, code):
    refused(code, draft, world, **overrides)

    assert Agreement.objects.count() == 0 and AgreementVersion.objects.count() == 0
    assert actions() == []


def test_a_global_never_may_be_set_to_never(world):
    version = draft(world, category_policies={"adult_content": "never"}).versions.get()

    assert version.category_policies.get().policy == CategoryPolicy.Policy.NEVER


def test_an_exclusivity_in_an_unknown_territory_or_outside_the_term_is_refused(world):
    term = make_terms()
    unknown = ExclusivityTerm(
        category="fragrance",
        territories=TerritorySpec(include=("WORLDWIDE",), exclude=("ATLANTIS",)),
        starts_at=term.effective_from,
        ends_at=term.effective_to,
    )
    too_long = ExclusivityTerm(
        category="fragrance",
        territories=TerritorySpec(include=("US",)),
        starts_at=term.effective_from,
        ends_at=term.effective_to + DAY,
    )

    error = refused("validation_error", draft, world, exclusivities=(unknown,))
    assert "ATLANTIS" in str(error.extra)
    refused("validation_error", draft, world, exclusivities=(too_long,))
    assert Exclusivity.objects.count() == 0


def test_only_brand_legal_or_staff_draft(world):
    refused("permission_denied", draft, world, actor=world.users["campaign_manager"])
    refused("permission_denied", draft, world, actor=world.users["agent"])

    assert draft(world, actor=world.users["staff"]).versions.count() == 1


def test_a_minor_is_refused_unless_the_instance_allows_minors(world, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = False

    refused("minor_not_allowed", draft, world, talent=world.minor_a)
    assert Agreement.objects.count() == 0


def test_a_minors_agreement_has_a_shorter_cap_and_ends_by_their_coming_of_age(world, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = True
    settings.RIGHTSDESK_MINOR_MAX_LICENCE_TERM_DAYS = 365
    minor = world.minor_a  # 15, in France (majority at 18)

    refused("licence_term_above_cap", draft, world, talent=minor, max_licence_term_days=366)
    error = refused(
        "agreement_beyond_majority",
        draft,
        world,
        talent=minor,
        effective_to=make_terms().effective_from + 4 * 365 * DAY,
    )
    assert error.extra["comes_of_age_on"]
    assert draft(world, talent=minor, max_licence_term_days=365).versions.count() == 1


# --- signing --------------------------------------------------------------------------------


def test_every_party_signing_activates_the_version_and_the_agreement(world):
    agreement = draft(world)
    version = agreement.versions.get()

    sign(version, world.users["talent"])
    version.refresh_from_db()
    assert version.status == Status.AWAITING_SIGNATURES  # one party is not enough

    sign(version, world.users["legal"])

    version.refresh_from_db()
    agreement.refresh_from_db()
    assert version.status == Status.ACTIVE and version.activated_at is not None
    assert agreement.status == Agreement.Status.ACTIVE
    evidence = Signature.objects.get(version=version, party="principal")
    assert (evidence.signer, evidence.signer_role) == (world.users["talent"], "talent")
    assert (evidence.ip_address, evidence.user_agent) == ("203.0.113.7", "pytest")
    assert evidence.signed_sha256 == version.content_sha256
    assert actions() == [
        "agreement.created",
        "agreement.signed",
        "agreement.signed",
        "agreement.version_activated",
    ]


def test_a_wrong_hash_is_refused_and_nothing_is_recorded(world):
    version = draft(world).versions.get()

    refused("signature_hash_mismatch", sign, version, world.users["talent"], sha256="0" * 64)

    assert Signature.objects.count() == 0
    assert actions() == ["agreement.created"]


def test_signing_twice_for_the_same_party_is_refused(world):
    version = draft(world).versions.get()
    sign(version, world.users["talent"])

    # The agent holds the power to sign, but the principal's side has already signed.
    refused("already_signed", sign, version, world.users["agent"])

    assert version.signatures.count() == 1


def test_an_agent_with_the_power_signs_for_an_adult(world):
    version = draft(world).versions.get()

    sign(version, world.users["agent"])
    sign(version, world.users["legal"])

    version.refresh_from_db()
    assert version.status == Status.ACTIVE
    assert version.signatures.get(party="principal").signer_role == "agent"


def test_an_agent_without_the_power_cannot_sign(world):
    world.representation_a.can_negotiate_uses = False
    world.representation_a.save()
    version = draft(world).versions.get()

    refused("signing_power_required", sign, version, world.users["agent"])

    assert version.signatures.count() == 0


def test_people_who_are_no_party_cannot_sign(world):
    version = draft(world).versions.get()

    for who in ("campaign_manager", "staff", "agency_legal", "agent_b"):
        refused("not_a_signatory", sign, version, world.users[who])
    refused("not_a_signatory", sign, version, world.talent_b.user)
    assert version.signatures.count() == 0


def test_an_agent_cannot_sign_for_a_minor_but_the_guardian_does(world, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = True
    version = draft(world, talent=world.minor_a).versions.get()

    refused("not_principal", sign, version, world.users["agent"])
    refused("not_principal", sign, version, world.users["minor"])  # the minor's own account
    sign(version, world.users["guardian"])
    sign(version, world.users["legal"])

    version.refresh_from_db()
    assert version.status == Status.ACTIVE
    assert version.signatures.get(party="principal").signer_role == "guardian"


def test_the_estate_signs_for_a_deceased_talent_and_an_agent_cannot(world):
    version = draft(world, talent=world.deceased_a).versions.get()

    refused("not_principal", sign, version, world.users["agent"])
    sign(version, world.users["estate"])
    sign(version, world.users["legal"])

    version.refresh_from_db()
    assert version.status == Status.ACTIVE
    assert version.signatures.get(party="principal").signer_role == "estate"


# --- amending -------------------------------------------------------------------------------


def active_agreement(world) -> Agreement:
    agreement = draft(world)
    version = agreement.versions.get()
    sign(version, world.users["talent"])
    sign(version, world.users["legal"])
    agreement.refresh_from_db()
    return agreement


def test_an_amendment_supersedes_the_active_version_only_once_fully_signed(world):
    agreement = active_agreement(world)
    renewal = make_terms(effective_to=make_terms().effective_to + 365 * DAY)

    v2 = agreement_amend(
        agreement=agreement,
        document=document(b"renewal"),
        terms=renewal,
        actor=world.users["legal"],
    )
    assert (v2.number, v2.status) == (2, Status.AWAITING_SIGNATURES)
    assert agreement.versions.get(number=1).status == Status.ACTIVE

    sign(v2, world.users["legal"])
    assert agreement.versions.get(number=1).status == Status.ACTIVE  # still in force

    sign(v2, world.users["talent"])
    assert agreement.versions.get(number=1).status == Status.SUPERSEDED
    assert agreement.versions.get(number=2).status == Status.ACTIVE
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE


def test_signing_a_superseded_version_is_refused(world):
    agreement = draft(world)
    v1 = agreement.versions.get()
    sign(v1, world.users["legal"])
    # A new amendment replaces the version still awaiting signatures.
    agreement_amend(
        agreement=agreement,
        document=document(b"corrected"),
        terms=make_terms(),
        actor=world.users["legal"],
    )

    refused("version_not_signable", sign, v1, world.users["talent"])

    v1.refresh_from_db()
    assert v1.status == Status.SUPERSEDED and v1.signatures.count() == 1


def test_a_fully_signed_version_once_superseded_cannot_be_signed_again(world):
    agreement = active_agreement(world)
    v2 = agreement_amend(
        agreement=agreement,
        document=document(b"v2"),
        terms=make_terms(),
        actor=world.users["legal"],
    )
    sign(v2, world.users["legal"])
    sign(v2, world.users["agent"])

    refused("version_not_signable", sign, agreement.versions.get(number=1), world.users["legal"])


# --- terminating ----------------------------------------------------------------------------


def test_terminating_ends_the_agreement_its_versions_and_runs_the_hooks(
    world, django_capture_on_commit_callbacks
):
    agreement = active_agreement(world)
    pending = agreement_amend(
        agreement=agreement,
        document=document(b"v2"),
        terms=make_terms(),
        actor=world.users["legal"],
    )
    called = []
    hooks.on_agreement_terminated.append(lambda **kw: called.append(kw))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            agreement_terminate(
                agreement=agreement, reason="Brand closed", actor=world.users["legal"]
            )
    finally:
        hooks.on_agreement_terminated.pop()

    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.TERMINATED and agreement.terminated_at
    assert set(agreement.versions.values_list("status", flat=True)) == {Status.TERMINATED}
    assert called == [{"agreement": agreement, "actor": world.users["legal"]}]
    assert actions()[-1] == "agreement.terminated"
    notified = set(Notification.objects.values_list("user__email", flat=True))
    assert world.users["talent"].email in notified and world.users["agent"].email in notified
    assert world.users["legal"].email not in notified  # the actor
    refused("version_not_signable", sign, pending, world.users["talent"])


def test_the_talent_side_may_terminate_but_not_a_campaign_manager(world):
    agreement = active_agreement(world)

    refused(
        "not_a_signatory",
        agreement_terminate,
        agreement=agreement,
        reason="x",
        actor=world.users["campaign_manager"],
    )
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE

    agreement_terminate(agreement=agreement, reason="Moving on", actor=world.users["talent"])
    refused(
        "invalid_transition",
        agreement_terminate,
        agreement=agreement,
        reason="again",
        actor=world.users["legal"],
    )


def test_a_failing_hook_rolls_the_termination_back(world):
    agreement = active_agreement(world)

    def broken(**kwargs):
        raise RuntimeError("licensing could not end the licences")

    hooks.on_agreement_terminated.append(broken)
    try:
        with pytest.raises(RuntimeError):
            agreement_terminate(agreement=agreement, reason="x", actor=world.users["legal"])
    finally:
        hooks.on_agreement_terminated.remove(broken)

    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE
    assert "agreement.terminated" not in actions()


def test_a_terminated_agreement_cannot_be_amended(world):
    agreement = active_agreement(world)
    agreement_terminate(agreement=agreement, reason="x", actor=world.users["legal"])

    refused(
        "invalid_transition",
        agreement_amend,
        agreement=agreement,
        document=document(),
        terms=make_terms(),
        actor=world.users["legal"],
    )
    assert agreement.versions.count() == 1


def test_a_legal_user_of_another_brand_is_not_a_party(world):
    other_legal = UserFactory(role="legal", organization=world.agency_b)
    version = draft(world).versions.get()

    refused("not_a_signatory", sign, version, other_legal)
