"""A world in which the gate allows a render, built straight with the ORM so that each
gate test can break exactly one thing.

Talent X ("Lena Moss", legal name Helena Mossberg) and talent Y (Zoé Durand) are each
verified, adults, with capture and training consents on ``tiny-sd``, a signed-off likeness
with appearance limits, an active agreement with the brand (lingerie never, swimwear with
approval) and an accepted licence for paid social in France and Germany and print in the
US. "Summer" (a one-word stage name) and "Nova" (a distinctive one) are registered too.
"""

import datetime
import hashlib
import uuid
from dataclasses import dataclass, field

from django.utils import timezone

from rightsdesk.accounts.models import Organization, User
from rightsdesk.agreements.models import Agreement, AgreementVersion, Category, CategoryPolicy
from rightsdesk.agreements.taxonomy import category_ensure_defaults
from rightsdesk.consent.gate_types import RENDER, GateQuery
from rightsdesk.consent.models import ConsentNotice, CreationConsent, Withdrawal
from rightsdesk.ledger.services import ledger_budget_top_up
from rightsdesk.ledger.types import owner_ref
from rightsdesk.licensing.models import Licence, UsageRow
from rightsdesk.talent.models import LikenessVersion, Talent
from rightsdesk.talent.services import talent_names_index
from tests.factories import OrganizationFactory, TalentFactory, UserFactory

BASE_MODEL = "tiny-sd"
BRIEF = "A model in a linen suit on a pier at dawn"
DAY = datetime.timedelta(days=1)


@dataclass
class Side:
    talent: Talent
    likeness: LikenessVersion
    capture: CreationConsent
    train: CreationConsent
    agreement: Agreement
    version: AgreementVersion
    licence: Licence
    usage: list[UsageRow]


@dataclass
class GateWorld:
    now: datetime.datetime
    brand: Organization
    other_brand: Organization
    legal: User
    manager: User
    staff: User
    x: Side
    y: Side
    summer: Talent
    nova: Talent
    categories: dict[str, Category] = field(default_factory=dict)

    def query(self, **overrides) -> GateQuery:
        """The baseline render request for talent X, which the gate allows."""
        values = {
            "action": RENDER,
            "at": self.now,
            "licences": (self.x.licence.public_id,),
            "brand": self.brand.pk,
            "brief": BRIEF,
            "territory": "FR",
            "medium": "paid_social",
        }
        values.update(overrides)
        return GateQuery(**values)


def _notice(kind: str) -> ConsentNotice:
    text = f"Gate test notice for {kind}"
    notice, _ = ConsentNotice.objects.get_or_create(
        kind=kind,
        version=900,
        language="en",
        defaults={"text": text, "sha256": hashlib.sha256(text.encode()).hexdigest()},
    )
    return notice


def consent(talent: Talent, kind: str, *, at: datetime.datetime, base_model: str = ""):
    notice = _notice(kind)
    return CreationConsent.objects.create(
        talent=talent,
        kind=kind,
        notice=notice,
        notice_sha256=notice.sha256,
        scope_reference="capture_session:gate" if kind == "capture" else "",
        base_model=base_model,
        given_by=talent.user,
        given_role="talent",
        served_at=at - datetime.timedelta(minutes=5),
        answered_at=at,
        method="web",
        public_id=uuid.uuid4(),
    )


def withdraw(*, talent: Talent, by: User, effective_at: datetime.datetime, **target) -> Withdrawal:
    return Withdrawal.objects.create(
        kind=Withdrawal.Kind.FOR_CAUSE,
        talent=talent,
        reason="test",
        requested_by=by,
        requested_at=effective_at - datetime.timedelta(minutes=1),
        effective_at=effective_at,
        run_off_until=effective_at + 90 * DAY,
        public_id=uuid.uuid4(),
        **target,
    )


def verified_talent(**fields) -> Talent:
    staff = UserFactory(role="staff", is_staff=True)
    talent = TalentFactory(
        identity_verified_at=timezone.now() - 60 * DAY,
        identity_verified_by=staff,
        identity_verification_method="document_check",
        **fields,
    )
    talent_names_index(talent=talent)
    return talent


def _side(*, now, talent: Talent, brand: Organization, legal: User, categories) -> Side:
    likeness = LikenessVersion.objects.create(
        talent=talent,
        version=1,
        status=LikenessVersion.Status.SIGNED_OFF,
        base_model=BASE_MODEL,
        trigger_token=f"rdtk{talent.pk}",
        appearance_limits=["body_reshaping", "skin_tone", "age_change", "tattoo_removal"],
        signed_off_at=now - 20 * DAY,
        signed_off_by=talent.user,
    )
    agreement = Agreement.objects.create(
        talent=talent,
        brand=brand,
        title="Linen campaigns",
        status=Agreement.Status.ACTIVE,
        created_by=legal,
    )
    version = AgreementVersion.objects.create(
        agreement=agreement,
        number=1,
        status=AgreementVersion.Status.ACTIVE,
        document="agreements/gate.pdf",
        document_sha256=hashlib.sha256(b"doc").hexdigest(),
        terms_json="{}",
        content_sha256=hashlib.sha256(b"terms").hexdigest(),
        jurisdiction="FR",
        effective_from=now - 30 * DAY,
        effective_to=now + 700 * DAY,
        max_licence_term_days=365,
        activated_at=now - 30 * DAY,
        created_by=legal,
    )
    for slug, policy in (
        ("apparel", "allowed"),
        ("swimwear", "with_approval"),
        ("lingerie", "never"),
    ):
        CategoryPolicy.objects.create(version=version, category=categories[slug], policy=policy)
    licence = Licence.objects.create(
        agreement=agreement,
        agreement_version=version,
        talent=talent,
        brand=brand,
        campaign="Linen SS27",
        status=Licence.Status.ACCEPTED,
        use_description="Product images for the spring linen line",
        purpose="advertising",
        advertiser=brand.name,
        category=categories["apparel"],
        usage_fee_minor=25_000,
        currency="EUR",
        draft_allowance=10,
        starts_at=now - 5 * DAY,
        ends_at=now + 180 * DAY,
        accepted_at=now - 5 * DAY,
        accepted_by=talent.user,
        proposed_by=legal,
    )
    usage = [
        UsageRow.objects.create(
            licence=licence,
            medium="paid_social",
            territories={"include": ["FR", "DE"]},
            territory_codes=["DE", "FR"],
            duration_days=365,
            quantity=20,
        ),
        UsageRow.objects.create(
            licence=licence,
            medium="print",
            territories={"include": ["US"]},
            territory_codes=["US"],
            duration_days=365,
            quantity=5,
        ),
    ]
    return Side(
        talent=talent,
        likeness=likeness,
        capture=consent(talent, "capture", at=now - 40 * DAY),
        train=consent(talent, "train", at=now - 40 * DAY, base_model=BASE_MODEL),
        agreement=agreement,
        version=version,
        licence=licence,
        usage=usage,
    )


# Enough for every draft the tests ask for (100 drafts at the usage fee and its charges).
BRAND_BUDGET_MINOR = 100 * 25_000 * 2


def build_gate_world() -> GateWorld:
    now = timezone.now()
    category_ensure_defaults()
    categories = {c.slug: c for c in Category.objects.all()}
    brand = OrganizationFactory(kind=Organization.Kind.BRAND, name="Maison Lin")
    other_brand = OrganizationFactory(kind=Organization.Kind.BRAND, name="Rival Brand")
    legal = UserFactory(role="legal", organization=brand)
    x = verified_talent(legal_name="Helena Mossberg", stage_name="Lena Moss")
    y = verified_talent(legal_name="Zoé Durand", stage_name="")
    summer = verified_talent(legal_name="Sarah Jones", stage_name="Summer")
    nova = verified_talent(
        legal_name="Nora Vasquez", stage_name="Nova", stage_name_distinctive=True
    )
    talent_names_index(talent=nova)
    side = {"now": now, "brand": brand, "legal": legal, "categories": categories}
    staff = UserFactory(role="staff", is_staff=True, is_superuser=True)
    # Every approved draft reserves its usage fee from the brand's budget (renders.fees).
    ledger_budget_top_up(
        brand=owner_ref("brand", brand.public_id),
        currency="EUR",
        amount_minor=BRAND_BUDGET_MINOR,
        idempotency_key=f"gate-world:{brand.public_id}:top-up",
        actor=staff,
    )
    return GateWorld(
        now=now,
        brand=brand,
        other_brand=other_brand,
        legal=legal,
        manager=UserFactory(role="campaign_manager", organization=brand),
        staff=staff,
        x=_side(talent=x, **side),
        y=_side(talent=y, **side),
        summer=summer,
        nova=nova,
        categories=categories,
    )
