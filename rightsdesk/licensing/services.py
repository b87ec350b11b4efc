"""Use licences: proposal, counter, revision, acceptance (the use consent), and counters.

Who does what (DESIGN.md, "The deal"): brand legal of the agreement's brand proposes and
revises; the talent's principal (talent, guardian or estate) or an agent whose agency
holds the power to negotiate uses counters, accepts or declines. Nobody else, staff
included, may answer for the talent.

The Licence row holds the terms in force: the brand's latest proposal. A counter is
recorded as a LicenceOffer with the talent side's terms and moves the licence to
``countered``; only brand legal's revision puts terms back on the table (``proposed``), so
the talent's side can never accept terms the brand has not put forward. Revising replaces
the usage rows: rows are the working copy the gate reads, the LicenceOffer rows are the
evidence (exact canonical terms and their hash), and before acceptance nothing may point at
a row (UsageRow is PROTECTed, so a row something did point at could not be deleted).

Acceptance locks the talent's row, then the licence's. Every writer that changes what the
exclusivity check reads for a talent (an acceptance, an external commitment) takes the
talent's row lock first, so under READ COMMITTED the check after the lock sees whatever
the other committed, and two of them cannot both pass on a stale picture.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from rightsdesk.accounts.models import Role, User
from rightsdesk.agreements.models import Agreement, AgreementVersion, Category, CategoryPolicy
from rightsdesk.agreements.selectors import user_is_brand_legal
from rightsdesk.agreements.taxonomy import (
    category_get,
    category_is_globally_never,
    category_lineage_ids,
)
from rightsdesk.audit.services import audit_record
from rightsdesk.core import rawsql
from rightsdesk.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from rightsdesk.core.notifications import REMINDER_DAYS, notify, reminder_due
from rightsdesk.core.vocab import (
    InvalidTerritorySpec,
    TerritorySpec,
    UnknownTerritory,
    expand_territory,
)
from rightsdesk.ledger.services import ledger_post_fee
from rightsdesk.licensing.errors import (
    AgreementInactive,
    DealMemoMismatch,
    ExclusivityConflict,
    LicenceOfferExpired,
    LicenceOutsideAgreement,
)
from rightsdesk.licensing.exclusivity import (
    Conflict,
    conflicts_message,
    licence_conflicts,
)
from rightsdesk.licensing.memo import DealMemo, deal_memo_language, deal_memo_render
from rightsdesk.licensing.models import ExternalCommitment, Licence, LicenceOffer, UsageRow
from rightsdesk.licensing.selectors import licence_fee_spec
from rightsdesk.licensing.terms import (
    LicenceTerms,
    UsageTerms,
    terms_validate,
    territories_json,
)
from rightsdesk.talent.models import Talent, talent_lock
from rightsdesk.talent.selectors import (
    agent_has_power,
    talent_deciders,
    talent_principal_users,
)

__all__ = [
    "DealMemo",
    "ExpiryReport",
    "LicenceTerms",
    "UsageTerms",
    "deal_memo_language",
    "deal_memo_render",
    "external_commitment_create",
    "external_commitment_end",
    "licence_accept",
    "licence_counter",
    "licence_decline",
    "licence_propose",
    "licence_return_drafts",
    "licence_revise",
    "licence_take_drafts",
    "licence_terms",
    "licences_end_for_expired_agreement",
    "licences_end_for_terminated_agreement",
    "licences_expire_and_remind",
    "talent_side_role",
    "terms_check_fit",
]

NEGOTIATE = "negotiate"  # talent.selectors.POWER_FIELDS: Representation.can_negotiate_uses
OPEN_STATUSES = (Licence.Status.PROPOSED, Licence.Status.COUNTERED)


# --- who may act -------------------------------------------------------------------------


def _ensure_brand_legal(*, user: User, brand_id: int) -> None:
    if not user_is_brand_legal(user=user, brand_id=brand_id):
        raise PermissionDenied("Only the brand's legal team may do this.")


def talent_side_role(*, user: User, talent: Talent) -> str | None:
    """``user``'s role when they may negotiate for ``talent`` ("talent", "guardian",
    "estate" or "agent"), else None. A minor's own account is not the principal."""
    if not (user.is_authenticated and user.is_active):
        return None
    if any(p.pk == user.pk for p in talent_principal_users(talent=talent)):
        return user.role
    if agent_has_power(user=user, talent=talent, power=NEGOTIATE):
        return Role.AGENT
    return None


def _ensure_talent_side(*, user: User, talent: Talent) -> str:
    role = talent_side_role(user=user, talent=talent)
    if role is None:
        raise PermissionDenied(
            "Only the talent (or their guardian or estate) or an agent with the power to "
            "negotiate uses may do this."
        )
    return role


def brand_legal_users(*, brand_id: int) -> list[User]:
    return list(
        User.objects.filter(role=Role.LEGAL, organization_id=brand_id, is_active=True).order_by(
            "pk"
        )
    )


def _notify_all(
    *, users: list[User], kind: str, subject: str, body: str, licence: Licence, dedupe: str = ""
) -> int:
    sent = 0
    for user in users:
        notice = notify(
            user=user,
            kind=kind,
            subject=subject,
            body=body,
            target_reference=f"licence:{licence.public_id}",
            dedupe_key=dedupe,
        )
        sent += notice is not None
    return sent


# --- fitting the agreement -----------------------------------------------------------------


def _active_version(*, agreement: Agreement) -> AgreementVersion:
    version = None
    if agreement.status == Agreement.Status.ACTIVE:
        version = AgreementVersion.objects.filter(
            agreement_id=agreement.pk, status=AgreementVersion.Status.ACTIVE
        ).first()
    if version is None:
        raise AgreementInactive(agreement=str(agreement.public_id))
    return version


def _ensure_version_active(*, licence: Licence) -> AgreementVersion:
    """The licence's own version, still active: an amendment since the proposal means the
    brand must revise the licence under the new terms before it can be accepted."""
    version = AgreementVersion.objects.select_related("agreement").get(
        pk=licence.agreement_version_id
    )
    if not (
        version.status == AgreementVersion.Status.ACTIVE
        and version.agreement.status == Agreement.Status.ACTIVE
    ):
        raise AgreementInactive(
            "The agreement this licence was proposed under is no longer active; the brand "
            "must revise the licence under the agreement's current version.",
            agreement=str(version.agreement.public_id),
        )
    return version


def _outside(field: str, message: str, **limit) -> LicenceOutsideAgreement:
    return LicenceOutsideAgreement(message, field=field, **limit)


def _check_category(*, version: AgreementVersion, category: Category) -> None:
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    if category_is_globally_never(category, parents=parents):
        raise _outside("category", f"{category.name} may never be licensed on this instance.")
    lineage = category_lineage_ids(category, parents=parents)
    # A "never" on beauty reaches fragrance, which sits inside it.
    if CategoryPolicy.objects.filter(
        version=version, category_id__in=lineage, policy=CategoryPolicy.Policy.NEVER
    ).exists():
        raise _outside("category", f"The agreement never allows {category.name}.")


def terms_check_fit(*, version: AgreementVersion, terms: LicenceTerms) -> Category:
    """Validate ``terms`` and check they fit ``version``; return the licence's category.

    Malformed values raise ``validation_error``; well-formed terms the agreement does not
    allow raise ``licence_outside_agreement`` naming the field and the agreement's bound.
    """
    terms_validate(terms)
    category = category_get(terms.category)
    if terms.starts_at < version.effective_from:
        raise _outside(
            "starts_at",
            "The licence starts before the agreement does.",
            limit=version.effective_from.isoformat(),
        )
    if terms.ends_at > version.effective_to:
        raise _outside(
            "ends_at",
            "The licence ends after the agreement does.",
            limit=version.effective_to.isoformat(),
        )
    max_days = version.max_licence_term_days
    if (terms.ends_at - terms.starts_at).total_seconds() > max_days * 86400:
        raise _outside(
            "ends_at",
            f"The licence is longer than the agreement's {max_days} days.",
            limit=max_days,
        )
    for index, row in enumerate(terms.usage):
        if row.duration_days > max_days:
            raise _outside(
                f"usage[{index}].duration_days",
                f"A usage duration is longer than the agreement's {max_days} days.",
                limit=max_days,
            )
    _check_category(version=version, category=category)
    return category


# --- writing the licence -----------------------------------------------------------------


def _licence_fields(*, terms: LicenceTerms, category: Category) -> dict:
    return {
        "campaign": terms.campaign.strip(),
        "use_description": terms.use_description.strip(),
        "purpose": terms.purpose.strip(),
        "advertiser": terms.advertiser.strip(),
        "product_lines": [line.strip() for line in terms.product_lines],
        "category": category,
        "currency": terms.currency,
        "buyout_minor": terms.buyout_minor,
        "usage_fee_minor": terms.usage_fee_minor,
        "draft_allowance": terms.draft_allowance,
        "brief_approval_required": terms.brief_approval_required,
        "starts_at": terms.starts_at,
        "ends_at": terms.ends_at,
        "offer_expires_at": terms.offer_expires_at,
    }


def _rows_create(*, licence: Licence, terms: LicenceTerms) -> None:
    UsageRow.objects.bulk_create(
        [
            UsageRow(
                licence=licence,
                medium=row.medium,
                territories=territories_json(row.territories),
                territory_codes=sorted(row.territories.codes()),
                duration_days=row.duration_days,
                quantity=row.quantity,
            )
            for row in terms.usage
        ]
    )


def licence_terms(*, licence: Licence) -> LicenceTerms:
    """The terms in force on ``licence`` (the brand's latest proposal)."""
    return LicenceTerms(
        campaign=licence.campaign,
        use_description=licence.use_description,
        purpose=licence.purpose,
        advertiser=licence.advertiser,
        product_lines=tuple(licence.product_lines),
        category=licence.category.slug,
        usage=tuple(
            UsageTerms(
                medium=row.medium,
                territories=TerritorySpec.from_json(row.territories),
                duration_days=row.duration_days,
                quantity=row.quantity,
            )
            for row in licence.usage_rows.order_by("pk")
        ),
        currency=licence.currency,
        buyout_minor=licence.buyout_minor,
        usage_fee_minor=licence.usage_fee_minor,
        draft_allowance=licence.draft_allowance,
        brief_approval_required=licence.brief_approval_required,
        starts_at=licence.starts_at,
        ends_at=licence.ends_at,
        offer_expires_at=licence.offer_expires_at,
    )


def _offer_append(
    *,
    licence: Licence,
    kind: str,
    actor: User | None,
    actor_role: str,
    terms: LicenceTerms,
    note: str = "",
    **evidence,
) -> LicenceOffer:
    # The caller holds the licence's row lock, so the next sequence number is ours.
    last = licence.offers.aggregate(last=Max("sequence"))["last"] or 0
    return LicenceOffer.objects.create(
        licence=licence,
        sequence=last + 1,
        kind=kind,
        actor=actor,
        actor_role=actor_role,
        terms_json=terms.canonical_json(),
        terms_sha256=terms.sha256(),
        note=note,
        **evidence,
    )


def _locked(licence: Licence) -> Licence:
    return (
        Licence.objects.select_for_update(of=("self",))
        .select_related("agreement", "talent", "brand", "category", "agreement_version")
        .get(pk=licence.pk)
    )


def _ensure_status(licence: Licence, allowed: tuple[str, ...], to: str) -> None:
    if licence.status not in allowed:
        raise InvalidTransition(
            f"A {licence.status} licence cannot become {to}.",
            **{"from": licence.status, "to": to},
        )


def _ensure_offer_open(*, terms: LicenceTerms, now: datetime) -> None:
    if terms.offer_expires_at is not None and terms.offer_expires_at <= now:
        raise ValidationFailed(fields={"offer_expires_at": ["The offer must expire in future."]})


@transaction.atomic
def licence_propose(*, agreement: Agreement, terms: LicenceTerms, actor: User) -> Licence:
    """Brand legal proposes a licence under an active agreement; the talent's side is told."""
    _ensure_brand_legal(user=actor, brand_id=agreement.brand_id)
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    version = _active_version(agreement=agreement)
    category = terms_check_fit(version=version, terms=terms)
    _ensure_offer_open(terms=terms, now=timezone.now())
    licence = Licence.objects.create(
        agreement=agreement,
        agreement_version=version,
        talent_id=agreement.talent_id,
        brand_id=agreement.brand_id,
        status=Licence.Status.PROPOSED,
        proposed_by=actor,
        **_licence_fields(terms=terms, category=category),
    )
    _rows_create(licence=licence, terms=terms)
    offer = _offer_append(
        licence=licence,
        kind=LicenceOffer.Kind.PROPOSED,
        actor=actor,
        actor_role=Role.LEGAL,
        terms=terms,
    )
    _notify_all(
        users=talent_deciders(talent=licence.talent, power=NEGOTIATE),
        kind="licence.proposed",
        subject=f"{licence.brand.name} proposes a use licence: {licence.campaign}",
        body=(
            f"{licence.brand.name} proposes a licence to use your digital twin for the "
            f"campaign {licence.campaign!r}. Read the deal memo before you accept, counter "
            "or decline it."
        ),
        licence=licence,
    )
    audit_record(
        actor=actor,
        action="licence.proposed",
        target=licence,
        payload={
            "agreement": str(agreement.public_id),
            "agreement_version": version.number,
            "offer": offer.sequence,
            "terms_sha256": offer.terms_sha256,
        },
    )
    return licence


@transaction.atomic
def licence_counter(*, licence: Licence, terms: LicenceTerms, note: str, actor: User) -> Licence:
    """The talent's side answers a proposal with other terms; the brand must revise."""
    role = _ensure_talent_side(user=actor, talent=licence.talent)
    licence = _locked(licence)
    _ensure_status(licence, (Licence.Status.PROPOSED,), Licence.Status.COUNTERED)
    version = _ensure_version_active(licence=licence)
    terms_check_fit(version=version, terms=terms)
    _ensure_offer_open(terms=terms, now=timezone.now())
    offer = _offer_append(
        licence=licence,
        kind=LicenceOffer.Kind.COUNTERED,
        actor=actor,
        actor_role=role,
        terms=terms,
        note=note.strip(),
    )
    # The counter is the offer on the table now: its expiry is the one that runs.
    Licence.objects.filter(pk=licence.pk).update(
        status=Licence.Status.COUNTERED,
        offer_expires_at=terms.offer_expires_at,
        updated_at=timezone.now(),
    )
    licence.refresh_from_db()
    _notify_all(
        users=brand_legal_users(brand_id=licence.brand_id),
        kind="licence.countered",
        subject=f"Counter-offer on the licence for {licence.campaign}",
        body="The talent's side answered your proposal with other terms. Revise the licence "
        "to put terms back on the table, or decline the counter-offer.",
        licence=licence,
    )
    audit_record(
        actor=actor,
        action="licence.countered",
        target=licence,
        payload={"offer": offer.sequence, "terms_sha256": offer.terms_sha256, "by": role},
    )
    return licence


@transaction.atomic
def licence_revise(*, licence: Licence, terms: LicenceTerms, actor: User) -> Licence:
    """Brand legal puts new terms on the table (answering a counter, or amending its own
    proposal), under the agreement's current active version."""
    _ensure_brand_legal(user=actor, brand_id=licence.brand_id)
    licence = _locked(licence)
    _ensure_status(licence, OPEN_STATUSES, Licence.Status.PROPOSED)
    version = _active_version(agreement=licence.agreement)
    category = terms_check_fit(version=version, terms=terms)
    _ensure_offer_open(terms=terms, now=timezone.now())
    fields = _licence_fields(terms=terms, category=category)
    for name, value in fields.items():
        setattr(licence, name, value)
    licence.agreement_version = version
    licence.status = Licence.Status.PROPOSED
    licence.save()
    UsageRow.objects.filter(licence=licence).delete()
    _rows_create(licence=licence, terms=terms)
    offer = _offer_append(
        licence=licence,
        kind=LicenceOffer.Kind.PROPOSED,
        actor=actor,
        actor_role=Role.LEGAL,
        terms=terms,
    )
    _notify_all(
        users=talent_deciders(talent=licence.talent, power=NEGOTIATE),
        kind="licence.revised",
        subject=f"{licence.brand.name} revised the licence for {licence.campaign}",
        body="New terms are on the table. Read the deal memo again before you answer.",
        licence=licence,
    )
    audit_record(
        actor=actor,
        action="licence.revised",
        target=licence,
        payload={
            "agreement_version": version.number,
            "offer": offer.sequence,
            "terms_sha256": offer.terms_sha256,
        },
    )
    return licence


def _refuse_conflicts(conflicts: list[Conflict]) -> None:
    redacted: list[dict] = []
    for conflict in conflicts:
        if conflict.redacted() not in redacted:
            redacted.append(conflict.redacted())
    raise ExclusivityConflict(conflicts_message(conflicts), conflicts=redacted)


def _buyout_post(*, licence: Licence, actor: User) -> None:
    """Book the buy-out in the acceptance's transaction: accepting is what earns it, and
    the key derived from the licence makes it once only."""
    if not licence.buyout_minor:
        return
    ledger_post_fee(
        fee=licence_fee_spec(licence=licence, kind="buyout", fee_minor=licence.buyout_minor),
        reference=f"licence:{licence.public_id}",
        idempotency_key=f"licence:{licence.public_id}:buyout",
        description=f"Buy-out: {licence.campaign}"[:200],
        actor=actor,
    )


@transaction.atomic
def licence_accept(
    *,
    licence: Licence,
    deal_memo_sha256: str,
    language: str,
    actor: User,
    authentication_method: str,
    ip: str | None,
    user_agent: str,
) -> Licence:
    """The talent's side accepts the deal memo it read: this is the use consent.

    Refused unless the licence is proposed (not countered: the brand must revise first),
    the offer is open, the agreement version it was proposed under is still active, the
    memo's hash is the one just rendered, and no exclusivity the talent granted elsewhere
    overlaps it.
    """
    role = _ensure_talent_side(user=actor, talent=licence.talent)
    # Talent first, then the licence: every writer of the talent's exclusivity picture
    # takes the talent's lock first, so no two can deadlock or pass on a stale view.
    talent_lock(talent_id=licence.talent_id)
    licence = _locked(licence)
    _ensure_status(licence, (Licence.Status.PROPOSED,), Licence.Status.ACCEPTED)
    now = timezone.now()
    if licence.offer_expires_at is not None and licence.offer_expires_at <= now:
        raise LicenceOfferExpired(offer_expires_at=licence.offer_expires_at.isoformat())
    _ensure_version_active(licence=licence)
    memo = deal_memo_render(licence=licence, language=language)
    if memo.sha256 != (deal_memo_sha256 or "").strip().lower():
        raise DealMemoMismatch(current_sha256=memo.sha256, language=memo.language)
    conflicts = licence_conflicts(licence=licence)
    if conflicts:
        _refuse_conflicts(conflicts)
    offer = _offer_append(
        licence=licence,
        kind=LicenceOffer.Kind.ACCEPTED,
        actor=actor,
        actor_role=role,
        terms=licence_terms(licence=licence),
        deal_memo_language=memo.language,
        deal_memo_text=memo.text,
        deal_memo_sha256=memo.sha256,
        authentication_method=authentication_method[:32],
        ip_address=ip or None,
        user_agent=user_agent or "",
    )
    updated = Licence.objects.filter(pk=licence.pk, status=Licence.Status.PROPOSED).update(
        status=Licence.Status.ACCEPTED,
        accepted_at=now,
        accepted_by=actor,
        deal_memo_sha256=memo.sha256,
        updated_at=now,
    )
    if updated != 1:  # unreachable under the row lock; a guard should the lock go
        raise InvalidTransition(**{"from": licence.status, "to": Licence.Status.ACCEPTED})
    licence.refresh_from_db()
    _buyout_post(licence=licence, actor=actor)
    _notify_all(
        users=brand_legal_users(brand_id=licence.brand_id),
        kind="licence.accepted",
        subject=f"Licence accepted: {licence.campaign}",
        body="The talent's side accepted the licence. Campaign managers may now request "
        "renders under it.",
        licence=licence,
    )
    audit_record(
        actor=actor,
        action="licence.accepted",
        target=licence,
        payload={
            "offer": offer.sequence,
            "terms_sha256": offer.terms_sha256,
            "deal_memo_sha256": memo.sha256,
            "deal_memo_language": memo.language,
            "by": role,
            "authentication_method": offer.authentication_method,
        },
    )
    return licence


@transaction.atomic
def licence_decline(*, licence: Licence, note: str, actor: User) -> Licence:
    """The talent's side declines a proposal or its own standing counter; brand legal may
    decline the talent's counter-offer. Either way the negotiation ends."""
    if user_is_brand_legal(user=actor, brand_id=licence.brand_id):
        role, allowed = Role.LEGAL, (Licence.Status.COUNTERED,)
    else:
        role, allowed = _ensure_talent_side(user=actor, talent=licence.talent), OPEN_STATUSES
    licence = _locked(licence)
    _ensure_status(licence, allowed, Licence.Status.DECLINED)
    offer = _offer_append(
        licence=licence,
        kind=LicenceOffer.Kind.DECLINED,
        actor=actor,
        actor_role=role,
        terms=licence_terms(licence=licence),
        note=note.strip(),
    )
    Licence.objects.filter(pk=licence.pk).update(
        status=Licence.Status.DECLINED, updated_at=timezone.now()
    )
    licence.refresh_from_db()
    others = (
        talent_deciders(talent=licence.talent, power=NEGOTIATE)
        if role == Role.LEGAL
        else brand_legal_users(brand_id=licence.brand_id)
    )
    _notify_all(
        users=others,
        kind="licence.declined",
        subject=f"Licence declined: {licence.campaign}",
        body="The negotiation of this licence has ended without agreement.",
        licence=licence,
    )
    audit_record(
        actor=actor,
        action="licence.declined",
        target=licence,
        payload={"offer": offer.sequence, "by": role},
    )
    return licence


# --- the counters renders take --------------------------------------------------------------


def licence_take_drafts(*, licence: Licence, count: int) -> bool:
    """Take ``count`` drafts from the allowance of an accepted licence, in the caller's
    transaction. One conditional UPDATE: two takers can never overdraw it, and a licence
    that is not accepted (or another licence) gives nothing."""
    if type(count) is not int or count < 1:
        raise ValueError("count must be a whole number >= 1")
    # Written by hand: every submission runs it while other submissions wait for the row.
    return (
        rawsql.execute(_TAKE_DRAFTS, [count, licence.pk, Licence.Status.ACCEPTED.value, count]) == 1
    )


_TAKE_DRAFTS = (
    f"UPDATE {Licence._meta.db_table} SET drafts_used = drafts_used + %s "  # noqa: S608 - names from the model
    "WHERE id = %s AND status = %s AND drafts_used <= draft_allowance - %s"
)


def licence_return_drafts(*, licence: Licence, count: int) -> None:
    """Give back drafts that were taken (a denied, cancelled or failed request), never
    below zero, whatever the licence's status now."""
    if type(count) is not int or count < 1:
        raise ValueError("count must be a whole number >= 1")
    Licence.objects.filter(pk=licence.pk).update(drafts_used=Greatest(F("drafts_used") - count, 0))


def licence_use_quantity(*, licence: Licence, medium: str, territory: str) -> UsageRow | None:
    """Count one released asset against the first usage row of ``licence`` for ``medium``
    that covers ``territory`` and has room, in the caller's transaction; None when none
    has. A conditional UPDATE per row: concurrent releases never exceed a quantity."""
    wanted = set(expand_territory(territory)) if territory else set()
    for row in UsageRow.objects.filter(licence=licence, medium=medium).order_by("pk"):
        if not wanted <= set(row.territory_codes):
            continue
        if UsageRow.objects.filter(pk=row.pk, quantity_used__lt=F("quantity")).update(
            quantity_used=F("quantity_used") + 1
        ):
            row.refresh_from_db(fields=["quantity_used"])
            return row
    return None


def licence_record_first_publication(*, licence: Licence, at: datetime) -> Licence:
    """The licence's usage durations run from its first publication: the earliest one
    reported is kept."""
    Licence.objects.filter(pk=licence.pk).filter(
        Q(first_published_at__isnull=True) | Q(first_published_at__gt=at)
    ).update(first_published_at=at)
    licence.refresh_from_db(fields=["first_published_at"])
    return licence


# --- external commitments -----------------------------------------------------------------


def _commitment_territories(territories: TerritorySpec) -> list[str]:
    try:
        return sorted(territories.validated().codes())
    except UnknownTerritory as exc:
        raise ValidationFailed(fields={"territories": [f"Unknown territory {exc}."]})
    except InvalidTerritorySpec as exc:
        raise ValidationFailed(fields={"territories": [str(exc)]})


@transaction.atomic
def external_commitment_create(
    *,
    talent: Talent,
    category: str,
    territories: TerritorySpec,
    starts_at: datetime,
    ends_at: datetime,
    counterparty: str,
    actor: User,
) -> ExternalCommitment:
    """Record an exclusivity the talent granted outside Rightsdesk; acceptances that
    overlap it are refused from now on, as for an agreement's exclusivity."""
    role = _ensure_talent_side(user=actor, talent=talent)
    if ends_at <= starts_at:
        raise ValidationFailed(fields={"ends_at": ["The commitment must end after it starts."]})
    codes = _commitment_territories(territories)
    found = category_get(category)
    talent_lock(talent_id=talent.pk)  # serialised with acceptances (see the module's docstring)
    commitment = ExternalCommitment.objects.create(
        talent=talent,
        category=found,
        territories=territories_json(territories),
        territory_codes=codes,
        starts_at=starts_at,
        ends_at=ends_at,
        counterparty=counterparty.strip()[:200],
        recorded_by=actor,
    )
    audit_record(
        actor=actor,
        action="external_commitment.recorded",
        target=commitment,
        payload={
            "talent": str(talent.public_id),
            "category": found.slug,
            "territory_codes": codes,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "by": role,
        },
    )
    return commitment


@transaction.atomic
def external_commitment_end(
    *, commitment: ExternalCommitment, actor: User, ended_at: datetime | None = None
) -> ExternalCommitment:
    """End a commitment early (the booking was cancelled or released)."""
    _ensure_talent_side(user=actor, talent=commitment.talent)
    talent_lock(talent_id=commitment.talent_id)
    commitment = ExternalCommitment.objects.select_for_update().get(pk=commitment.pk)
    now = timezone.now()
    ended_at = ended_at or now
    if commitment.ends_at <= now:
        raise InvalidTransition("This commitment has already ended.", **{"from": "ended"})
    if ended_at >= commitment.ends_at:
        raise ValidationFailed(fields={"ended_at": ["Must be before the commitment's end."]})
    previous = commitment.ends_at
    commitment.ends_at = max(ended_at, commitment.starts_at)
    commitment.save(update_fields=["ends_at", "updated_at"])
    audit_record(
        actor=actor,
        action="external_commitment.ended",
        target=commitment,
        payload={"previous_ends_at": previous, "ends_at": commitment.ends_at},
    )
    return commitment


# --- expiry and reminders (daily) ---------------------------------------------------------


@dataclass(frozen=True)
class ExpiryReport:
    offers_expired: int
    licences_expired: int
    reminders_sent: int


def _expire_one(*, licence_id: int, seen: str, now: datetime, reason: str) -> bool:
    with transaction.atomic():
        licence = (
            Licence.objects.select_for_update(of=("self",))
            .select_related("category")
            .filter(pk=licence_id, status=seen)
            .first()
        )
        if licence is None:  # another run, or an answer, got there first
            return False
        _offer_append(
            licence=licence,
            kind=LicenceOffer.Kind.EXPIRED,
            actor=None,
            actor_role="system",
            terms=licence_terms(licence=licence),
            note=reason,
        )
        Licence.objects.filter(pk=licence.pk).update(status=Licence.Status.EXPIRED, updated_at=now)
        audit_record(
            actor=None,
            action="licence.expired",
            target=licence,
            payload={"from": seen, "reason": reason},
        )
    return True


def _remind(*, licence: Licence, now: datetime) -> int:
    days = reminder_due(ends_at=licence.ends_at, now=now)
    if days is None:
        return 0
    users = brand_legal_users(brand_id=licence.brand_id) + talent_deciders(
        talent=licence.talent, power=NEGOTIATE
    )
    with transaction.atomic():
        return _notify_all(
            users=users,
            kind="licence.ending",
            subject=f"Licence ends in {days} day{'s' if days > 1 else ''}: {licence.campaign}",
            body=(
                f"The use licence for the campaign {licence.campaign!r} ends on "
                f"{licence.ends_at:%Y-%m-%d %H:%M} UTC. Renewing it means proposing a new "
                "licence."
            ),
            licence=licence,
            dedupe=f"licence:{licence.public_id}:ends:{days}",
        )


def licences_expire_and_remind(*, now: datetime | None = None) -> ExpiryReport:
    """Expire open offers past their expiry and accepted licences past their end; remind
    both sides 30, 7 and 1 days before an accepted licence ends. Idempotent: a rerun
    changes and sends nothing (compare-and-set per licence, dedupe keys per reminder)."""
    now = now or timezone.now()
    offers = 0
    for pk, status in Licence.objects.filter(
        status__in=OPEN_STATUSES, offer_expires_at__lte=now
    ).values_list("pk", "status"):
        offers += _expire_one(licence_id=pk, seen=status, now=now, reason="offer_expired")
    ended = 0
    for pk in Licence.objects.filter(status=Licence.Status.ACCEPTED, ends_at__lte=now).values_list(
        "pk", flat=True
    ):
        ended += _expire_one(
            licence_id=pk, seen=Licence.Status.ACCEPTED, now=now, reason="term_ended"
        )
    reminders = 0
    horizon = now + timedelta(days=max(REMINDER_DAYS))
    ending = Licence.objects.filter(
        Q(status=Licence.Status.ACCEPTED), ends_at__gt=now, ends_at__lte=horizon
    ).select_related("talent")
    for licence in ending:
        reminders += _remind(licence=licence, now=now)
    return ExpiryReport(offers_expired=offers, licences_expired=ended, reminders_sent=reminders)


# --- when the agreement ends ----------------------------------------------------------------


def _end_for_agreement(*, agreement: Agreement, actor: User | None, reason: str) -> int:
    """End the licences under ``agreement``: open offers expire (nobody answered them);
    accepted licences are withdrawn when the agreement is terminated, expire when it
    ends at its term. Runs in the agreement's transaction (agreements.hooks)."""
    now = timezone.now()
    accepted_to = (
        Licence.Status.WITHDRAWN if reason == "agreement_terminated" else Licence.Status.EXPIRED
    )
    ended = 0
    licences = (
        Licence.objects.select_for_update(of=("self",))
        .select_related("category")
        .filter(agreement=agreement, status__in=(*OPEN_STATUSES, Licence.Status.ACCEPTED))
        .order_by("pk")
    )
    for licence in licences:
        to = accepted_to if licence.status == Licence.Status.ACCEPTED else Licence.Status.EXPIRED
        _offer_append(
            licence=licence,
            kind=to,
            actor=actor,
            actor_role=actor.role if actor is not None else "system",
            terms=licence_terms(licence=licence),
            note=reason,
        )
        Licence.objects.filter(pk=licence.pk).update(status=to, updated_at=now)
        audit_record(
            actor=actor,
            action=f"licence.{to}",
            target=licence,
            payload={"from": licence.status, "reason": reason},
        )
        ended += 1
    return ended


def licences_end_for_terminated_agreement(*, agreement: Agreement, actor: User | None) -> int:
    return _end_for_agreement(agreement=agreement, actor=actor, reason="agreement_terminated")


def licences_end_for_expired_agreement(*, agreement: Agreement, actor: User | None) -> int:
    return _end_for_agreement(agreement=agreement, actor=actor, reason="agreement_expired")
