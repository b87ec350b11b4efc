"""The demo world and the story the demo tells (``python manage.py demo``).

The story is a list of steps run in order; each returns a few narrated lines. Every step
is idempotent: it finds its objects by a natural key (an e-mail address, an organisation's
name, the talent's user) and calls a service only for what is missing, so running the demo
again changes nothing, not even the audit chain. Later issues append steps to STORY
(capture, train, render, release...).

Issue 3's steps use only the real services: brand legal drafts an agreement, both parties
sign its hash, the talent gives the creation consents, brand legal proposes two licences
and the talent accepts one; then the campaign manager asks the gate, as a dry run, what it
would decide today. Issue 4's steps (``demo_twin``) capture the talent, train and sign off
her likeness and render under the accepted licence; they wait on a Celery worker, which is
where torch runs: nothing here imports ``generation`` except its torch-free ``model_id``.
"""

import datetime
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from generation.model_id import base_model_id
from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.accounts.services import organization_create, user_create
from rightsdesk.agreements.models import Agreement, AgreementVersion, Signature
from rightsdesk.agreements.services import agreement_create, agreement_sign
from rightsdesk.agreements.terms import AgreementTerms
from rightsdesk.audit.services import audit_record
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import RENDER, Decision, GateQuery
from rightsdesk.consent.models import ConsentKind, CreationConsent, GateDecision
from rightsdesk.consent.notices import consent_notice_current
from rightsdesk.consent.selectors import creation_consent_in_force
from rightsdesk.consent.services import creation_consent_give
from rightsdesk.core import demo_twin
from rightsdesk.core.vocab import MEDIA, TerritorySpec
from rightsdesk.ledger.selectors import ledger_budget_available
from rightsdesk.ledger.services import ledger_budget_top_up
from rightsdesk.ledger.types import owner_ref
from rightsdesk.licensing.memo import deal_memo_render, money_format
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.services import licence_accept, licence_propose
from rightsdesk.licensing.terms import LicenceTerms, UsageTerms
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.services import render_request_submit
from rightsdesk.talent.models import CaptureSession, LikenessVersion, Representation, Talent
from rightsdesk.talent.selectors import POWER_FIELDS, current_q, representation_list_visible_to
from rightsdesk.talent.services import (
    representation_create,
    talent_create,
    talent_verify_identity,
)

DEMO_PASSWORD = "demo-pass-2026"
STAFF_EMAIL = "staff@demo.test"
TALENT_EMAIL = "talent@demo.test"
AGENT_EMAIL = "agent@demo.test"
LEGAL_EMAIL = "legal@demo.test"
MANAGER_EMAIL = "manager@demo.test"
BRAND = "brand"
AGENCY = "agency"


@dataclass(frozen=True)
class DemoOrganisation:
    key: str
    name: str
    kind: str
    country: str


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: str
    organisation: str | None = None  # a DemoOrganisation key
    superuser: bool = False


ORGANISATIONS = (
    DemoOrganisation(BRAND, "Maison Demo", Organization.Kind.BRAND, "FR"),
    DemoOrganisation(AGENCY, "Demo Models", Organization.Kind.AGENCY, "FR"),
)
# Staff comes first: it is the actor of everything seeded after it.
USERS = (
    DemoUser(STAFF_EMAIL, "Sasha Staff", Role.STAFF, superuser=True),
    DemoUser(TALENT_EMAIL, "Camille Durand", Role.TALENT),
    DemoUser(AGENT_EMAIL, "Alex Agent", Role.AGENT, AGENCY),
    DemoUser(LEGAL_EMAIL, "Lou Legal", Role.LEGAL, BRAND),
    DemoUser(MANAGER_EMAIL, "Morgan Manager", Role.CAMPAIGN_MANAGER, BRAND),
)
TALENT_STAGE_NAME = "Demo Model"
TALENT_DATE_OF_BIRTH = datetime.date(1996, 3, 14)
TALENT_JURISDICTION = "FR"
COMMISSION_BPS = 2000
IDENTITY_METHOD = "document_check"


@dataclass
class DemoWorld:
    """What the steps have found or made so far, for the steps after them."""

    organisations: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    talent: Talent | None = None
    representation: Representation | None = None
    agreement: Agreement | None = None
    licences: dict[str, Licence] = field(default_factory=dict)
    # The twin (demo_twin): made by the steps that need a worker.
    worker: "DemoWorker" = field(default_factory=lambda: NoWorker())
    capture_session: CaptureSession | None = None
    likeness: LikenessVersion | None = None
    render_request: RenderRequest | None = None
    render_paths: list[str] = field(default_factory=list)
    asset: Asset | None = None
    released_path: str = ""

    @property
    def staff(self) -> User:
        return self.users[STAFF_EMAIL]

    @property
    def agent(self) -> User:
        return self.users[AGENT_EMAIL]

    @property
    def manager(self) -> User:
        return self.users[MANAGER_EMAIL]


class DemoWorker(Protocol):
    """The Celery worker the story's generation steps wait on."""

    def ensure(self) -> None:
        """Make sure a worker consumes the broker (start one if this story owns it)."""

    def check(self) -> None:
        """Raise StepFailed if the worker has died."""


class NoWorker:
    """No worker: the steps that need one are left out of the story (``needs_worker``)."""

    def ensure(self) -> None:
        raise StepFailed("this step needs a Celery worker and the story runs without one")

    def check(self) -> None:
        self.ensure()


class StepFailed(Exception):
    """A step of the story could not be told; the demo stops and exits non-zero."""


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[DemoWorld], str]
    # Steps that wait on a Celery worker (training, rendering): `demo --skip-generation`
    # leaves them out.
    needs_worker: bool = False


# Seeding: one function per kind of object, each "find by natural key, else create".


def seed_organisation(spec: DemoOrganisation, *, actor: User | None) -> tuple[Organization, bool]:
    found = Organization.objects.filter(name=spec.name, kind=spec.kind).order_by("pk").first()
    if found is not None:
        return found, False
    created = organization_create(name=spec.name, kind=spec.kind, country=spec.country, actor=actor)
    return created, True


def seed_user(
    spec: DemoUser, *, organisations: dict[str, Organization], actor: User | None
) -> tuple[User, bool]:
    user = User.objects.filter(email=spec.email).first()
    created = user is None
    if created:
        organisation = organisations[spec.organisation] if spec.organisation else None
        user = user_create(
            email=spec.email,
            role=spec.role,
            password=DEMO_PASSWORD,
            full_name=spec.full_name,
            organization=organisation,
            actor=actor,
        )
    elif not user.check_password(DEMO_PASSWORD):
        # Someone changed a demo password: put it back so that the printed logins work.
        # An unchanged password is left alone (a new hash would be a change).
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        audit_record(actor=actor, action="demo.password_restored", target=user, payload={})
    if spec.superuser and not user.is_superuser:
        # No service grants superuser (an operator runs createsuperuser); the demo's staff
        # user gets it so that the whole admin is open to the demo.
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
        audit_record(actor=actor, action="demo.superuser_granted", target=user, payload={})
    return user, created


def seed_talent(*, user: User, actor: User) -> tuple[Talent, bool]:
    found = Talent.objects.filter(user=user).first()
    if found is not None:
        return found, False
    talent = talent_create(
        user=user,
        legal_name=user.full_name,
        stage_name=TALENT_STAGE_NAME,
        date_of_birth=TALENT_DATE_OF_BIRTH,
        jurisdiction=TALENT_JURISDICTION,
        actor=actor,
    )
    return talent, True


def seed_representation(
    *, talent: Talent, agency: Organization, actor: User
) -> tuple[Representation, bool]:
    current = Representation.objects.filter(current_q(timezone.now()), talent=talent, agency=agency)
    found = current.order_by("pk").first()
    if found is not None:
        return found, False
    representation = representation_create(
        talent=talent,
        agency=agency,
        commission_bps=COMMISSION_BPS,
        powers=frozenset(POWER_FIELDS),
        actor=actor,
    )
    return representation, True


def _count(kind: str, created: int, total: int) -> str:
    return f"{total} {kind} ({created} new)" if created else f"{total} {kind} (all there)"


@transaction.atomic
def step_seed(world: DemoWorld) -> str:
    """Two organisations, five users, the talent's profile and the agency's mandate."""
    staff_spec, *other_specs = USERS
    staff, staff_created = seed_user(staff_spec, organisations={}, actor=None)
    world.users[staff.email] = staff
    new_organisations = 0
    for spec in ORGANISATIONS:
        world.organisations[spec.key], created = seed_organisation(spec, actor=staff)
        new_organisations += created
    new_users = int(staff_created)
    for spec in other_specs:
        user, created = seed_user(spec, organisations=world.organisations, actor=staff)
        world.users[user.email] = user
        new_users += created
    world.talent, new_talent = seed_talent(user=world.users[TALENT_EMAIL], actor=staff)
    world.representation, new_representation = seed_representation(
        talent=world.talent, agency=world.organisations[AGENCY], actor=staff
    )
    return "; ".join(
        [
            _count("organisations", new_organisations, len(ORGANISATIONS)),
            _count("users", new_users, len(USERS)),
            _count("talent", int(new_talent), 1),
            _count("representation", int(new_representation), 1),
        ]
    )


def step_verify_identity(world: DemoWorld) -> str:
    """Staff attest the talent's identity, which every capture requires."""
    talent = world.talent
    if talent.identity_verified:
        return (
            f"{talent} was verified on {talent.identity_verified_at:%Y-%m-%d} "
            f"by {talent.identity_verified_by} ({talent.identity_verification_method})"
        )
    world.talent = talent_verify_identity(talent=talent, method=IDENTITY_METHOD, actor=world.staff)
    return f"{world.staff} attested {talent}'s identity ({IDENTITY_METHOD})"


POWER_LABELS = {
    "negotiate": "negotiate and accept uses",
    "approve_outputs": "approve outputs",
    "view_earnings": "view earnings",
}


def step_show_representation(world: DemoWorld) -> str:
    """What the agency may do for the talent, what it takes, and who can see it."""
    representation = world.representation
    powers = [
        label
        for power, label in POWER_LABELS.items()
        if getattr(representation, POWER_FIELDS[power])
    ]
    seen_by = [
        email
        for email, user in world.users.items()
        if representation_list_visible_to(user=user).filter(pk=representation.pk).exists()
    ]
    cap = settings.RIGHTSDESK_MAX_COMMISSION_BPS
    return "\n".join(
        [
            f"{representation.agency.name} represents {representation.talent} at "
            f"{representation.commission_bps / 100:.2f}% commission (the cap is {cap / 100:.2f}%)",
            f"the agency may {', '.join(powers) or 'do nothing yet'}",
            f"seen by {', '.join(seen_by)}; the others get 404",
        ]
    )


# The deal (issue 3): an agreement signed by both parties, the creation consents, an
# accepted licence and one still awaiting the talent's answer, then the gate asked.

AGREEMENT_TITLE = "Digital twin agreement: Demo Model for Maison Demo"
AGREEMENT_DAYS = 3 * 365
MAX_LICENCE_TERM_DAYS = 730
LICENCE_TERM_DAYS = 540
AGREEMENT_FEE_BPS = 1000
CATEGORY_POLICIES = {
    "apparel": "allowed",
    "footwear": "allowed",
    "accessories": "allowed",
    "swimwear": "with_approval",
    "lingerie": "never",
    "alcohol": "never",
    "tobacco_vaping": "never",
}
# The evidence the demo's signatures, consents and acceptance carry.
DEMO_AUTHENTICATION = "demo"
DEMO_IP = "127.0.0.1"
DEMO_USER_AGENT = "rightsdesk-demo"
CONSENT_METHOD = "web"  # consent.services.CONSENT_METHODS has no "demo"

HASH_PREFIX = 12
PARTY_LABELS = {
    Signature.Party.PRINCIPAL: "the principal",
    Signature.Party.BRAND_LEGAL: "brand legal",
}


def demo_base_model() -> str:
    """The id of the base model the worker trains on (the training consent names it),
    computed without torch: "tiny-sd-v1" unless RIGHTSDESK_BASE_MODEL names a folder."""
    return base_model_id(settings.RIGHTSDESK_BASE_MODEL or None)


@dataclass(frozen=True)
class DemoLicence:
    campaign: str
    use_description: str
    purpose: str
    product_lines: tuple[str, ...]
    category: str
    usage: tuple[UsageTerms, ...]
    buyout_minor: int
    usage_fee_minor: int
    draft_allowance: int
    brief_approval_required: bool
    accepted_by_talent: bool
    # What the campaign manager asks the gate about it.
    brief: str
    territory: str
    medium: str


def _usage(media: tuple[str, ...], territory: str, days: int, quantity: int) -> tuple:
    spec = TerritorySpec(include=(territory,))
    return tuple(UsageTerms(medium, spec, days, quantity) for medium in media)


LICENCE_A = DemoLicence(
    campaign="Spring 2027 e-commerce",
    use_description="Product images of the talent wearing the spring collection.",
    purpose="Selling the spring collection online",
    product_lines=("Spring 2027 ready-to-wear",),
    category="apparel",
    usage=_usage(("ecommerce_product_page", "organic_social"), "EU", 365, 20),
    buyout_minor=500_000,
    usage_fee_minor=15_000,
    draft_allowance=30,
    brief_approval_required=False,
    accepted_by_talent=True,
    brief="Full-length studio shot in a linen shirt and wide trousers, plain white background",
    territory="FR",
    medium="ecommerce_product_page",
)
LICENCE_B = DemoLicence(
    campaign="Holiday 2027 out-of-home",
    use_description="Posters and billboards of the talent in the holiday collection.",
    purpose="Advertising the holiday collection in the street",
    product_lines=("Holiday 2027 outerwear",),
    category="apparel",
    usage=_usage(("out_of_home",), "DACH", 120, 6),
    buyout_minor=1_200_000,
    usage_fee_minor=25_000,
    draft_allowance=20,
    brief_approval_required=True,
    accepted_by_talent=False,
    brief="Winter street scene in a wool coat, evening light",
    territory="DE",
    medium="out_of_home",
)


def _short(sha256: str) -> str:
    return sha256[:HASH_PREFIX]


def _when(moment: datetime.datetime, created: bool) -> str:
    return "just now" if created else f"on {moment:%Y-%m-%d}"


def _agreement_document(*, talent: Talent, brand: Organization, terms: AgreementTerms) -> bytes:
    """A small plain-text agreement: the demo has no lawyer, the hash works the same."""
    return (
        f"{AGREEMENT_TITLE}\n\n"
        f'Between {talent.legal_name} ("{talent.stage_name}") and {brand.name}.\n'
        f"Governing law: {terms.jurisdiction}. Term: {terms.effective_from:%Y-%m-%d} to "
        f"{terms.effective_to:%Y-%m-%d}.\n"
        f"Each licence lasts at most {terms.max_licence_term_days} days and needs the "
        "talent's acceptance of its deal memo.\n"
        f"Withdrawal notice: {terms.withdrawal_notice_days} days; run-off: "
        f"{terms.run_off_days} days.\n"
        "The structured terms stored with this version are part of this agreement.\n"
    ).encode()


def seed_agreement(*, talent: Talent, brand: Organization, legal: User) -> tuple[Agreement, bool]:
    found = (
        Agreement.objects.filter(talent=talent, brand=brand, title=AGREEMENT_TITLE)
        .order_by("pk")
        .first()
    )
    if found is not None:
        return found, False
    starts = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    terms = AgreementTerms(
        jurisdiction=TALENT_JURISDICTION,
        effective_from=starts,
        effective_to=starts + datetime.timedelta(days=AGREEMENT_DAYS),
        max_licence_term_days=MAX_LICENCE_TERM_DAYS,
        talent_had_counsel=True,
        client_agency_fee_bps=AGREEMENT_FEE_BPS,
        category_policies=CATEGORY_POLICIES,
    )
    document = ContentFile(
        _agreement_document(talent=talent, brand=brand, terms=terms), name="agreement.txt"
    )
    agreement = agreement_create(
        talent=talent,
        brand=brand,
        title=AGREEMENT_TITLE,
        document=document,
        terms=terms,
        actor=legal,
    )
    return agreement, True


def _latest_version(agreement: Agreement) -> AgreementVersion:
    return agreement.versions.order_by("-number").first()


def step_draft_agreement(world: DemoWorld) -> str:
    """Brand legal drafts the agreement and its version 1, with a document and terms."""
    legal = world.users[LEGAL_EMAIL]
    world.agreement, created = seed_agreement(
        talent=world.talent, brand=world.organisations[BRAND], legal=legal
    )
    version = _latest_version(world.agreement)
    policies = dict(version.category_policies.values_list("category__slug", "policy"))
    never = sorted(slug for slug, policy in policies.items() if policy == "never")
    asks = sorted(slug for slug, policy in policies.items() if policy == "with_approval")
    via = f" through {world.agreement.agency.name}" if world.agreement.agency else ""
    return "\n".join(
        [
            f"{legal.full_name} drafted “{world.agreement.title}” v{version.number}"
            f"{via} {_when(version.created_at, created)}",
            f"{version.jurisdiction} law, {version.effective_from:%Y-%m-%d} to "
            f"{version.effective_to:%Y-%m-%d}, licences up to {version.max_licence_term_days} "
            f"days, counsel: {'yes' if version.talent_had_counsel else 'no'}; "
            f"{', '.join(asks)} with approval; never {', '.join(never)}",
            f"document sha256 {_short(version.document_sha256)}…, "
            f"content sha256 {_short(version.content_sha256)}… (what each party signs)",
        ]
    )


@transaction.atomic
def step_sign_agreement(world: DemoWorld) -> str:
    """The talent (the principal) and brand legal each sign the version's content hash."""
    version = _latest_version(world.agreement)
    signers = (
        (Signature.Party.PRINCIPAL, world.users[TALENT_EMAIL]),
        (Signature.Party.BRAND_LEGAL, world.users[LEGAL_EMAIL]),
    )
    new = set()
    for party, user in signers:
        if version.status != AgreementVersion.Status.AWAITING_SIGNATURES:
            break
        if version.signatures.filter(party=party).exists():
            continue
        agreement_sign(
            version=version,
            actor=user,
            signed_sha256=version.content_sha256,
            authentication_method=DEMO_AUTHENTICATION,
            ip=DEMO_IP,
            user_agent=DEMO_USER_AGENT,
        )
        new.add(party)
        version.refresh_from_db()
    world.agreement.refresh_from_db()
    lines = [
        f"{signature.signer.full_name} signed v{version.number} as "
        f"{PARTY_LABELS[signature.party]} ({signature.signer_role}) "
        f"{_when(signature.signed_at, signature.party in new)}: "
        f"sha256 {_short(signature.signed_sha256)}…, {signature.authentication_method} "
        f"authentication from {signature.ip_address}"
        for signature in version.signatures.select_related("signer").order_by("signed_at", "pk")
    ]
    lines.append(f"version {version.status}, agreement {world.agreement.status}")
    return "\n".join(lines)


def seed_creation_consent(
    *, talent: Talent, kind: str, base_model: str = ""
) -> tuple[CreationConsent, bool]:
    found = creation_consent_in_force(talent=talent, kind=kind, base_model=base_model)
    if found is not None:
        return found, False
    notice = consent_notice_current(kind=kind, language=talent.preferred_language)
    consent = creation_consent_give(
        talent=talent,
        kind=kind,
        notice=notice,
        notice_sha256=notice.sha256,
        served_at=timezone.now(),
        base_model=base_model,
        actor=talent.user,
        method=CONSENT_METHOD,
        ip=DEMO_IP,
        user_agent=DEMO_USER_AGENT,
    )
    return consent, True


@transaction.atomic
def step_give_creation_consents(world: DemoWorld) -> str:
    """The principal, never the agent, consents to capture and to training on a base model."""
    talent = world.talent
    lines = []
    for kind, base_model in ((ConsentKind.CAPTURE, ""), (ConsentKind.TRAIN, demo_base_model())):
        consent, created = seed_creation_consent(talent=talent, kind=kind, base_model=base_model)
        notice = consent.notice
        on = f" on base model {consent.base_model}" if consent.base_model else ""
        lines.append(
            f"{consent.given_by.full_name} ({consent.given_role}) consented to {kind}{on} "
            f"{_when(consent.answered_at, created)}, on notice {notice.kind} v{notice.version} "
            f"({notice.language}, sha256 {_short(consent.notice_sha256)}…)"
        )
    lines.append("only the principal can give these; the agency's powers do not reach them")
    return "\n".join(lines)


def _licence_terms(spec: DemoLicence, *, version: AgreementVersion) -> LicenceTerms:
    # Dated from the agreement's start, not from today: a rerun on a later day that had to
    # propose a missing licence would still fit the same agreement.
    starts = version.effective_from
    return LicenceTerms(
        campaign=spec.campaign,
        use_description=spec.use_description,
        purpose=spec.purpose,
        advertiser=version.agreement.brand.name,
        product_lines=spec.product_lines,
        category=spec.category,
        usage=spec.usage,
        currency="EUR",
        buyout_minor=spec.buyout_minor,
        usage_fee_minor=spec.usage_fee_minor,
        draft_allowance=spec.draft_allowance,
        brief_approval_required=spec.brief_approval_required,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(days=LICENCE_TERM_DAYS),
    )


def seed_licence(*, spec: DemoLicence, agreement: Agreement, legal: User) -> tuple[Licence, bool]:
    found = (
        Licence.objects.filter(agreement=agreement, campaign=spec.campaign).order_by("pk").first()
    )
    if found is not None:
        return found, False
    version = agreement.versions.get(status=AgreementVersion.Status.ACTIVE)
    licence = licence_propose(
        agreement=agreement, terms=_licence_terms(spec, version=version), actor=legal
    )
    return licence, True


def _usage_in_words(licence: Licence) -> str:
    groups: dict[tuple, list[str]] = {}
    for row in licence.usage_rows.order_by("pk"):
        where = "+".join(row.territories["include"])
        if row.territories["exclude"]:
            where += " except " + "+".join(row.territories["exclude"])
        groups.setdefault((where, row.duration_days, row.quantity), []).append(MEDIA[row.medium])
    return "; ".join(
        f"{' and '.join(media)} in {where}, {days} days from first publication, "
        f"up to {quantity} assets{' each' if len(media) > 1 else ''}"
        for (where, days, quantity), media in groups.items()
    )


@transaction.atomic
def step_licence(world: DemoWorld, spec: DemoLicence) -> str:
    """Brand legal proposes a licence; for licence A the talent reads the memo and accepts."""
    legal, talent = world.users[LEGAL_EMAIL], world.talent
    licence, created = seed_licence(spec=spec, agreement=world.agreement, legal=legal)
    accepted_now = False
    if spec.accepted_by_talent and licence.status == Licence.Status.PROPOSED:
        memo = deal_memo_render(licence=licence, language=talent.preferred_language)
        licence = licence_accept(
            licence=licence,
            deal_memo_sha256=memo.sha256,
            language=memo.language,
            actor=talent.user,
            authentication_method=DEMO_AUTHENTICATION,
            ip=DEMO_IP,
            user_agent=DEMO_USER_AGENT,
        )
        accepted_now = True
    world.licences[spec.campaign] = licence
    price = f"buy-out {money_format(licence.buyout_minor, licence.currency)}"
    if licence.usage_fee_minor:
        price += f" + {money_format(licence.usage_fee_minor, licence.currency)} per released asset"
    lines = [
        f"{legal.full_name} proposed it {_when(licence.created_at, created)} "
        f"({licence.category.slug}): {_usage_in_words(licence)}",
        f"{price}; {licence.draft_allowance} drafts; brief approval "
        f"{'on' if licence.brief_approval_required else 'off'}; "
        f"{licence.starts_at:%Y-%m-%d} to {licence.ends_at:%Y-%m-%d}",
    ]
    if licence.status == Licence.Status.ACCEPTED:
        lines.append(
            f"{licence.accepted_by.full_name} accepted the deal memo "
            f"{_when(licence.accepted_at, accepted_now)}: sha256 "
            f"{_short(licence.deal_memo_sha256)}… (this is the use consent)"
        )
    else:
        memo = deal_memo_render(licence=licence)
        lines.append(
            f"{licence.status}, awaiting the talent's answer: the deal memo to accept has "
            f"sha256 {_short(memo.sha256)}…"
        )
    return "\n".join(lines)


def step_gate_dry_run(world: DemoWorld, spec: DemoLicence) -> str:
    """The campaign manager asks what the gate would decide now; nothing is stored."""
    manager = world.users[MANAGER_EMAIL]
    licence = world.licences[spec.campaign]
    decisions_before = GateDecision.objects.count()
    decision = evaluate(
        GateQuery(
            action=RENDER,
            at=timezone.now(),
            licences=(licence.public_id,),
            brand=manager.organization_id,
            campaign=licence.campaign,
            brief=spec.brief,
            territory=spec.territory,
            medium=spec.medium,
            dry_run=True,
        )
    )
    if GateDecision.objects.count() != decisions_before:
        raise StepFailed("the dry run stored a gate decision")
    return "\n".join(
        [
            f"{manager.full_name} asks to render “{spec.brief}” for {MEDIA[spec.medium]} in "
            f"{spec.territory} (dry run: nothing stored)",
            f"{decision.outcome}: {_reasons_in_words(decision)}",
            *_story_so_far(decision),
        ]
    )


def _reasons_in_words(decision: Decision) -> str:
    if not decision.reasons:
        return "no reason against it"
    return "; ".join(f"{reason.code} — {reason.message}" for reason in decision.reasons)


def _story_so_far(decision: Decision) -> list[str]:
    if "likeness_not_signed_off" in decision.codes():
        return ["expected here: the story ran without a worker, so no likeness was trained"]
    return []


BUDGET_TOP_UP_MINOR = 10_000_000  # EUR 100,000: the buy-out and every draft's fee
NEVER_BRIEF = "Lingerie campaign: the model in lace underwear on a hotel bed"
NEVER_KEY = "demo-never-category-1"


@transaction.atomic
def step_fund_budget(world: DemoWorld) -> str:
    """Staff credit the brand's budget: buy-outs are paid from it when a licence is
    accepted, and every draft reserves its usage fee from it before any GPU time."""
    brand = world.organisations[BRAND]
    owner = owner_ref("brand", brand.public_id)
    ledger_budget_top_up(
        brand=owner,
        currency="EUR",
        amount_minor=BUDGET_TOP_UP_MINOR,
        idempotency_key=f"demo:{brand.public_id}:top-up-1",
        actor=world.staff,
        note="Demo budget",
    )
    available = ledger_budget_available(brand=owner, currency="EUR")
    return (
        f"{world.staff.full_name} credited {brand.name}'s budget with "
        f"{money_format(BUDGET_TOP_UP_MINOR, 'EUR')} (once: the top-up has an idempotency "
        f"key); available now {money_format(available, 'EUR')}"
    )


def step_never_category(world: DemoWorld) -> str:
    """A brief in a category the agreement says "never" is refused by the gate, and the
    refusal is still a recorded request (201 through the API)."""
    render_request = render_request_submit(
        requester=world.manager,
        licences=[world.licences[LICENCE_A.campaign]],
        brief=NEVER_BRIEF,
        width=256,
        height=256,
        steps=8,
        num_drafts=1,
        idempotency_key=NEVER_KEY,
        territory=LICENCE_A.territory,
        medium=LICENCE_A.medium,
    )
    if render_request.status != "denied":
        raise StepFailed(f"the gate let a 'never' brief through: {render_request.status}")
    return "\n".join(
        [
            f"{world.manager.full_name} asks for “{NEVER_BRIEF}”",
            f"{render_request.status}: {', '.join(render_request.denial_reasons)}; nothing was "
            "taken from the allowance or the budget",
        ]
    )


def step_verify_audit_chain(world: DemoWorld) -> str:
    """Every step above was audited; the hash chain must still be one intact line."""
    out = io.StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError as exc:
        raise StepFailed(str(exc))
    return out.getvalue().strip()


STORY: list[Step] = [
    Step("Seed the demo world", step_seed),
    Step("Staff verify the talent's identity", step_verify_identity),
    Step("The agency's representation", step_show_representation),
    Step("Brand legal drafts the agreement", step_draft_agreement),
    Step("Both parties sign the agreement", step_sign_agreement),
    Step("Staff fund the brand's budget", step_fund_budget),
    Step("The talent consents to capture and to training", step_give_creation_consents),
    Step("A studio captures the talent", demo_twin.step_capture, needs_worker=True),
    Step("The worker trains the likeness", demo_twin.step_train, needs_worker=True),
    Step("The talent signs the likeness off", demo_twin.step_sign_off, needs_worker=True),
    Step(f"Licence A: {LICENCE_A.campaign}", lambda world: step_licence(world, LICENCE_A)),
    Step(f"Licence B: {LICENCE_B.campaign}", lambda world: step_licence(world, LICENCE_B)),
    Step("Gate dry run for licence A", lambda world: step_gate_dry_run(world, LICENCE_A)),
    Step("Gate dry run for licence B", lambda world: step_gate_dry_run(world, LICENCE_B)),
    Step("A brief in a 'never' category is denied", step_never_category),
    Step(
        "The campaign manager renders under licence A",
        lambda world: demo_twin.step_render(world, LICENCE_A),
        needs_worker=True,
    ),
    Step(
        "A draft is selected and the talent approves it",
        demo_twin.step_select_and_approve,
        needs_worker=True,
    ),
    Step("The image is released", demo_twin.step_release, needs_worker=True),
    Step("Fees in the ledger: the talent's statement", demo_twin.step_statement, needs_worker=True),
    Step("Anyone verifies the released image", demo_twin.step_verify, needs_worker=True),
    Step("Legal's evidence pack, verified offline", demo_twin.step_evidence, needs_worker=True),
    Step("Verify the audit chain", step_verify_audit_chain),
]
