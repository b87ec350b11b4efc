"""Writes for agreements: drafting, signing, amending, terminating and expiring them.

An agreement is a thread of immutable versions. Brand legal (or staff) drafts a version
with a document and structured terms (``AgreementTerms``, terms.py); each required party
signs that version's ``content_sha256``; when every party has signed, the version becomes
``active`` and the version it amends becomes ``superseded``. An amendment (a renewal is an
amendment with a later ``effective_to``) is a new version: the active one stays in force
until the amendment is fully signed. A new amendment replaces one still awaiting
signatures (that one becomes ``superseded`` and can no longer be signed).

Required parties (``Signature.Party``):

- ``principal``: the talent when an adult and alive, a current guardian for a minor, the
  estate for a deceased talent, or an agent whose agency's current representation grants
  the negotiate power (here: the power to sign commercial terms). Never an agent for a
  minor or a deceased talent: only the guardian or the estate signs for them.
- ``brand_legal``: an active legal user of the agreement's brand.

Minors (decided here; README "Settings"): refused unless ``RIGHTSDESK_ALLOW_MINORS``;
when allowed, the maximum licence term is at most ``RIGHTSDESK_MINOR_MAX_LICENCE_TERM_DAYS``
and the agreement may not run past the day the talent comes of age, so the adult decides
anew rather than being bound by what a guardian signed.
"""

import dataclasses
import datetime
import hashlib

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.agreements import hooks
from rightsdesk.agreements.errors import (
    AgreementBeyondMajority,
    AlreadySigned,
    CategoryGloballyNever,
    LicenceTermAboveCap,
    NotASignatory,
    SignatureHashMismatch,
    SigningPowerRequired,
    VersionNotSignable,
)
from rightsdesk.agreements.models import (
    Agreement,
    AgreementVersion,
    CategoryPolicy,
    Exclusivity,
    Signature,
)
from rightsdesk.agreements.selectors import agreement_people_to_notify, user_is_brand_legal
from rightsdesk.agreements.taxonomy import (
    category_ensure_defaults,
    category_get,
    category_is_globally_never,
)
from rightsdesk.agreements.terms import AgreementTerms, ExclusivityTerm, content_sha256
from rightsdesk.audit.services import audit_record
from rightsdesk.core.errors import (
    InvalidTransition,
    MinorNotAllowed,
    NotPrincipal,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.core.jurisdictions import age_of_majority
from rightsdesk.core.notifications import REMINDER_DAYS, notify, reminder_due
from rightsdesk.core.vocab import InvalidTerritorySpec, UnknownTerritory
from rightsdesk.talent.models import Representation, Talent, talent_lock
from rightsdesk.talent.selectors import (
    agent_has_power,
    agent_represents,
    current_q,
    ensure_principal,
)
from rightsdesk.talent.services import normalise_jurisdiction

__all__ = [
    "AgreementTerms",
    "ExclusivityTerm",
    "agreement_amend",
    "agreement_create",
    "agreement_sign",
    "agreement_signatory",
    "agreement_terminate",
    "agreements_expire_and_remind",
]

Status = AgreementVersion.Status
Party = Signature.Party
REQUIRED_PARTIES = frozenset({Party.PRINCIPAL, Party.BRAND_LEGAL})


# --- who may do what ----------------------------------------------------------------------


def _ensure_may_draft(*, actor: User, brand: Organization) -> None:
    if brand.kind != Organization.Kind.BRAND:
        raise ValidationFailed(fields={"brand": ["Not a brand."]})
    if not (user_is_brand_legal(user=actor, brand_id=brand.pk) or user_is_staff(user=actor)):
        raise PermissionDenied("Only the brand's legal team or staff draft its agreements.")


def agreement_signatory(
    *, agreement: Agreement, user: User, at: datetime.datetime | None = None
) -> tuple[str, str]:
    """The party ``user`` signs ``agreement`` as, and in what capacity: ``(party, role)``.

    Raises NotPrincipal (a minor's own account, an agent for a minor or a deceased talent),
    SigningPowerRequired (an agent whose mandate lacks the negotiate power) or
    NotASignatory (anyone else, staff included).
    """
    at = at or timezone.now()
    if user_is_brand_legal(user=user, brand_id=agreement.brand_id):
        return Party.BRAND_LEGAL, "legal"
    talent = agreement.talent
    if user.is_active and user.role in (Role.TALENT, Role.GUARDIAN, Role.ESTATE):
        if user.role == Role.TALENT and talent.user_id != user.pk:
            raise NotASignatory()
        ensure_principal(user=user, talent=talent, at=at)
        return Party.PRINCIPAL, user.role
    if user.is_active and user.role == Role.AGENT:
        if not agent_represents(user=user, talent=talent, at=at):
            raise NotASignatory()
        if talent.deceased or talent.is_minor(on=timezone.localdate(at)):
            raise NotPrincipal(
                "Only a guardian signs for a minor, and only the estate for a deceased talent."
            )
        if not agent_has_power(user=user, talent=talent, power="negotiate", at=at):
            raise SigningPowerRequired()
        return Party.PRINCIPAL, "agent"
    raise NotASignatory()


# --- terms --------------------------------------------------------------------------------


def _coming_of_age(talent: Talent) -> datetime.datetime:
    born = talent.date_of_birth
    years = age_of_majority(talent.jurisdiction)
    try:
        day = born.replace(year=born.year + years)
    except ValueError:  # born on 29 February: of age on 1 March in a common year
        day = datetime.date(born.year + years, 3, 1)
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


def _check_talent_terms(*, talent: Talent, terms: AgreementTerms, now: datetime.datetime) -> None:
    cap = settings.RIGHTSDESK_MAX_LICENCE_TERM_DAYS
    minor = not talent.deceased and talent.is_minor(on=timezone.localdate(now))
    if minor:
        if not settings.RIGHTSDESK_ALLOW_MINORS:
            raise MinorNotAllowed(age_of_majority=age_of_majority(talent.jurisdiction))
        cap = min(cap, settings.RIGHTSDESK_MINOR_MAX_LICENCE_TERM_DAYS)
        of_age = _coming_of_age(talent)
        if terms.effective_to > of_age:
            raise AgreementBeyondMajority(comes_of_age_on=of_age.date().isoformat())
    if terms.max_licence_term_days > cap:
        raise LicenceTermAboveCap(max_days=cap, minor=minor)


def _check_categories(terms: AgreementTerms) -> None:
    category_ensure_defaults()
    for slug, policy in sorted(terms.category_policies.items()):
        category = category_get(slug)
        if policy != CategoryPolicy.Policy.NEVER and category_is_globally_never(category):
            raise CategoryGloballyNever(category=slug)
    for index, exclusivity in enumerate(terms.exclusivities):
        name = f"exclusivities[{index}]"
        if category_is_globally_never(category_get(exclusivity.category)):
            raise CategoryGloballyNever(category=exclusivity.category)
        try:
            exclusivity.territories.validated()
        except UnknownTerritory as exc:
            raise ValidationFailed(fields={name: [f"Unknown territory {exc}."]})
        except InvalidTerritorySpec as exc:
            raise ValidationFailed(fields={name: [f"territories: {exc}."]})
        if not (terms.effective_from <= exclusivity.starts_at < exclusivity.ends_at):
            raise ValidationFailed(
                fields={name: ["Must start within the term and before it ends."]}
            )
        if exclusivity.ends_at > terms.effective_to:
            raise ValidationFailed(fields={name: ["Must end by the agreement's effective_to."]})


def agreement_terms_check(
    *, talent: Talent, terms: AgreementTerms, now: datetime.datetime | None = None
) -> AgreementTerms:
    """Validate ``terms`` for ``talent``; return them with the jurisdiction normalised."""
    now = now or timezone.now()
    jurisdiction = normalise_jurisdiction(terms.jurisdiction)
    if terms.effective_to <= terms.effective_from:
        raise ValidationFailed(fields={"effective_to": ["Must be after effective_from."]})
    if terms.effective_to <= now:
        raise ValidationFailed(fields={"effective_to": ["Must be in the future."]})
    if terms.client_agency_fee_bps > 10000:
        raise ValidationFailed(fields={"client_agency_fee_bps": ["At most 10000."]})
    _check_talent_terms(talent=talent, terms=terms, now=now)
    _check_categories(terms)
    return dataclasses.replace(terms, jurisdiction=jurisdiction)


# --- versions -----------------------------------------------------------------------------


def _document_sha256(document: File) -> str:
    if document is None or not document.size:
        raise ValidationFailed(fields={"document": ["The signed document's file is required."]})
    digest = hashlib.sha256()
    for chunk in document.chunks():
        digest.update(chunk)
    document.seek(0)
    return digest.hexdigest()


def _version_create(
    *, agreement: Agreement, number: int, document: File, terms: AgreementTerms, actor: User
) -> AgreementVersion:
    document_sha256 = _document_sha256(document)
    terms_json = terms.terms_json()
    version = AgreementVersion(
        agreement=agreement,
        number=number,
        document_sha256=document_sha256,
        terms_json=terms_json,
        content_sha256=content_sha256(document_sha256=document_sha256, terms_json=terms_json),
        jurisdiction=terms.jurisdiction,
        talent_had_counsel=terms.talent_had_counsel,
        talent_had_union=terms.talent_had_union,
        effective_from=terms.effective_from,
        effective_to=terms.effective_to,
        max_licence_term_days=terms.max_licence_term_days,
        withdrawal_notice_days=terms.withdrawal_notice_days,
        run_off_days=terms.run_off_days,
        client_agency_fee_bps=terms.client_agency_fee_bps,
        approval_window_hours=terms.approval_window_hours,
        created_by=actor,
    )
    version.document.save(f"agreement-{agreement.public_id}-v{number}", document, save=False)
    version.save(force_insert=True)
    CategoryPolicy.objects.bulk_create(
        CategoryPolicy(version=version, category=category_get(slug), policy=policy)
        for slug, policy in sorted(terms.category_policies.items())
    )
    Exclusivity.objects.bulk_create(
        Exclusivity(
            version=version,
            category=category_get(item.category),
            territories=item.to_json()["territories"],
            territory_codes=item.territories.sorted_codes(),
            starts_at=item.starts_at,
            ends_at=item.ends_at,
        )
        for item in terms.exclusivities
    )
    return version


def _representing_agency(*, talent: Talent, at: datetime.datetime) -> Organization | None:
    # Several agencies may represent a talent at once; the one able to negotiate is the
    # party to a commercial agreement, the most recent mandate first.
    representation = (
        Representation.objects.filter(current_q(at), talent=talent)
        .select_related("agency")
        .order_by("-can_negotiate_uses", "-valid_from", "-pk")
        .first()
    )
    return representation.agency if representation else None


@transaction.atomic
def agreement_create(
    *,
    talent: Talent,
    brand: Organization,
    title: str,
    document: File,
    terms: AgreementTerms,
    actor: User,
) -> Agreement:
    """Draft an agreement and its version 1, awaiting every party's signature."""
    _ensure_may_draft(actor=actor, brand=brand)
    if not title.strip():
        raise ValidationFailed(fields={"title": ["A title is required."]})
    now = timezone.now()
    terms = agreement_terms_check(talent=talent, terms=terms, now=now)
    agreement = Agreement.objects.create(
        talent=talent,
        brand=brand,
        agency=_representing_agency(talent=talent, at=now),
        title=title.strip(),
        created_by=actor,
    )
    version = _version_create(
        agreement=agreement, number=1, document=document, terms=terms, actor=actor
    )
    audit_record(
        actor=actor,
        action="agreement.created",
        target=agreement,
        payload=_version_payload(version),
    )
    return agreement


def _version_payload(version: AgreementVersion) -> dict:
    return {
        "version": version.number,
        "version_id": str(version.public_id),
        "document_sha256": version.document_sha256,
        "content_sha256": version.content_sha256,
        "terms_json": version.terms_json,
    }


def _locked(agreement: Agreement) -> Agreement:
    # Every state change of an agreement or its versions takes this lock first, so two
    # final signatures, or a signature and a termination, are serialised.
    return Agreement.objects.select_for_update().select_related("talent").get(pk=agreement.pk)


@transaction.atomic
def agreement_amend(
    *, agreement: Agreement, document: File, terms: AgreementTerms, actor: User
) -> AgreementVersion:
    """Add version n+1, awaiting signatures; the active version stays in force meanwhile."""
    agreement = _locked(agreement)
    _ensure_may_draft(actor=actor, brand=agreement.brand)
    if agreement.status == Agreement.Status.TERMINATED:
        raise InvalidTransition("A terminated agreement cannot be amended.")
    terms = agreement_terms_check(talent=agreement.talent, terms=terms)
    pending = list(
        agreement.versions.filter(status=Status.AWAITING_SIGNATURES).values_list(
            "number", flat=True
        )
    )
    agreement.versions.filter(status=Status.AWAITING_SIGNATURES).update(
        status=Status.SUPERSEDED, updated_at=timezone.now()
    )
    number = (agreement.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = _version_create(
        agreement=agreement, number=number, document=document, terms=terms, actor=actor
    )
    audit_record(
        actor=actor,
        action="agreement.amended",
        target=agreement,
        payload={**_version_payload(version), "superseded_unsigned_versions": pending},
    )
    return version


# --- signing ------------------------------------------------------------------------------


@transaction.atomic
def agreement_sign(
    *,
    version: AgreementVersion,
    actor: User,
    signed_sha256: str,
    authentication_method: str,
    ip: str | None,
    user_agent: str,
) -> Signature:
    """Record ``actor``'s signature of ``version``; activate it once every party has signed.

    The signer must sign the version's ``content_sha256`` exactly. Activating supersedes
    the previously active version and makes the agreement active.
    """
    agreement = _locked(version.agreement)
    version = AgreementVersion.objects.get(pk=version.pk)
    now = timezone.now()
    party, role = agreement_signatory(agreement=agreement, user=actor, at=now)
    if (
        agreement.status == Agreement.Status.TERMINATED
        or version.status != Status.AWAITING_SIGNATURES
        or version.effective_to <= now
    ):
        raise VersionNotSignable(status=version.status, version=version.number)
    if signed_sha256.strip().lower() != version.content_sha256:
        raise SignatureHashMismatch(content_sha256=version.content_sha256)
    if version.signatures.filter(party=party).exists():
        raise AlreadySigned(party=party)
    signature = Signature.objects.create(
        version=version,
        party=party,
        signer=actor,
        signer_role=role,
        signed_sha256=version.content_sha256,
        authentication_method=authentication_method[:32],
        ip_address=ip or None,
        user_agent=user_agent or "",
        signed_at=now,
    )
    signed = set(version.signatures.values_list("party", flat=True))
    superseded = (
        _activate(agreement=agreement, version=version, now=now)
        if signed >= REQUIRED_PARTIES
        else None
    )
    audit_record(
        actor=actor,
        action="agreement.signed",
        target=version,
        payload={
            "agreement_id": str(agreement.public_id),
            "version": version.number,
            "party": party,
            "signer_role": role,
            "signed_sha256": version.content_sha256,
            "authentication_method": signature.authentication_method,
        },
    )
    if version.status == Status.ACTIVE:
        audit_record(
            actor=actor,
            action="agreement.version_activated",
            target=agreement,
            payload={"version": version.number, "superseded_version": superseded},
        )
    return signature


def _activate(
    *, agreement: Agreement, version: AgreementVersion, now: datetime.datetime
) -> int | None:
    """Make ``version`` the active one; return the number of the version it supersedes."""
    # The talent's row is the lock that licence acceptances and external commitments take
    # before their exclusivity check: an activation that brings a new exclusivity must not
    # interleave with an acceptance for another brand that checks the old state.
    talent_lock(talent_id=agreement.talent_id)
    previous = agreement.versions.filter(status=Status.ACTIVE).exclude(pk=version.pk).first()
    if previous is not None:
        # First: one active version per agreement is a partial unique constraint.
        AgreementVersion.objects.filter(pk=previous.pk).update(
            status=Status.SUPERSEDED, updated_at=now
        )
    version.status = Status.ACTIVE
    version.activated_at = now
    version.save(update_fields=["status", "activated_at", "updated_at"])
    agreement.status = Agreement.Status.ACTIVE
    agreement.save(update_fields=["status", "updated_at"])
    return previous.number if previous else None


# --- ending -------------------------------------------------------------------------------


@transaction.atomic
def agreement_terminate(*, agreement: Agreement, reason: str, actor: User) -> Agreement:
    """Terminate ``agreement`` now: it, its active version and any unsigned one end.

    Brand legal or the talent's side (the principal, or an agent with the power to sign)
    may terminate. Terminating ends everything under it: licences live in ``licensing``,
    which imports this app, so they are ended by the callbacks registered in
    ``hooks.on_agreement_terminated`` (run in this transaction), and the gate denies any
    use under a terminated agreement regardless.
    """
    agreement = _locked(agreement)
    if not user_is_brand_legal(user=actor, brand_id=agreement.brand_id):
        agreement_signatory(agreement=agreement, user=actor)  # raises unless a party
    if agreement.status in (Agreement.Status.TERMINATED, Agreement.Status.EXPIRED):
        raise InvalidTransition(f"The agreement is already {agreement.status}.")
    if not reason.strip():
        raise ValidationFailed(fields={"reason": ["A reason is required."]})
    now = timezone.now()
    ended = list(
        agreement.versions.filter(status__in=[Status.ACTIVE, Status.AWAITING_SIGNATURES])
        .order_by("number")
        .values_list("number", flat=True)
    )
    agreement.versions.filter(number__in=ended).update(status=Status.TERMINATED, updated_at=now)
    agreement.status = Agreement.Status.TERMINATED
    agreement.terminated_at = now
    agreement.termination_reason = reason.strip()
    agreement.save(update_fields=["status", "terminated_at", "termination_reason", "updated_at"])
    hooks.run_hooks(hooks.on_agreement_terminated, agreement=agreement, actor=actor)
    for user in agreement_people_to_notify(agreement=agreement, at=now):
        if user.pk != actor.pk:
            notify(
                user=user,
                kind="agreement.terminated",
                subject=f"Agreement terminated: {agreement.title}",
                body=f"The agreement “{agreement.title}” was terminated on {now:%Y-%m-%d}.",
                target_reference=f"agreement:{agreement.public_id}",
                dedupe_key=f"agreement:{agreement.public_id}:terminated",
            )
    audit_record(
        actor=actor,
        action="agreement.terminated",
        target=agreement,
        payload={"reason": agreement.termination_reason, "versions_ended": ended},
    )
    return agreement


@dataclasses.dataclass(frozen=True)
class ExpiryReport:
    versions_expired: int
    agreements_expired: int
    reminders_sent: int


def agreements_expire_and_remind(*, now: datetime.datetime | None = None) -> ExpiryReport:
    """Expire what has passed its ``effective_to`` and send the 30/7/1-day reminders.

    Idempotent: expiring only moves rows still active or awaiting signatures, and each
    reminder has a dedupe key per agreement version and threshold, so a rerun (or a
    renewal's new end date, which is a new version) never sends one twice. Each agreement
    is handled in its own transaction so that one failure does not hold back the rest.
    """
    now = now or timezone.now()
    due = (
        AgreementVersion.objects.filter(
            status__in=[Status.ACTIVE, Status.AWAITING_SIGNATURES], effective_to__lte=now
        )
        .values_list("agreement_id", flat=True)
        .distinct()
    )
    versions_expired = agreements_expired = 0
    for agreement_id in sorted(set(due)):
        versions, agreement_ended = _agreement_expire(agreement_id=agreement_id, now=now)
        versions_expired += versions
        agreements_expired += int(agreement_ended)
    ending = AgreementVersion.objects.filter(
        status=Status.ACTIVE,
        agreement__status=Agreement.Status.ACTIVE,
        effective_to__gt=now,
        effective_to__lte=now + datetime.timedelta(days=max(REMINDER_DAYS)),
    ).select_related("agreement", "agreement__talent")
    reminders = sum(_agreement_remind(version=v, now=now) for v in ending)
    return ExpiryReport(versions_expired, agreements_expired, reminders)


@transaction.atomic
def _agreement_expire(*, agreement_id: int, now: datetime.datetime) -> tuple[int, bool]:
    agreement = Agreement.objects.select_for_update().get(pk=agreement_id)
    expiring = list(
        agreement.versions.filter(
            status__in=[Status.ACTIVE, Status.AWAITING_SIGNATURES], effective_to__lte=now
        ).values_list("number", flat=True)
    )
    if not expiring:
        return 0, False
    agreement.versions.filter(number__in=expiring).update(status=Status.EXPIRED, updated_at=now)
    live = agreement.versions.filter(status__in=[Status.ACTIVE, Status.AWAITING_SIGNATURES])
    # Active until no version is in force; a draft until nothing is left to sign.
    ended = (
        agreement.status == Agreement.Status.ACTIVE
        and not live.filter(status=Status.ACTIVE).exists()
    ) or (agreement.status == Agreement.Status.DRAFT and not live.exists())
    if ended:
        agreement.status = Agreement.Status.EXPIRED
        agreement.save(update_fields=["status", "updated_at"])
        hooks.run_hooks(hooks.on_agreement_expired, agreement=agreement, actor=None)
    audit_record(
        actor=None,
        action="agreement.expired" if ended else "agreement.version_expired",
        target=agreement,
        payload={"versions_expired": expiring, "agreement_expired": ended},
    )
    return len(expiring), ended


@transaction.atomic
def _agreement_remind(*, version: AgreementVersion, now: datetime.datetime) -> int:
    days = reminder_due(ends_at=version.effective_to, now=now)
    if days is None:
        return 0
    agreement = version.agreement
    ends_on = f"{version.effective_to:%Y-%m-%d}"
    sent = 0
    for user in agreement_people_to_notify(agreement=agreement, at=now):
        notice = notify(
            user=user,
            kind="agreement.expiring",
            subject=f"Agreement ends in {days} day{'s' if days > 1 else ''}: {agreement.title}",
            body=(
                f"The agreement “{agreement.title}” (version {version.number}) ends on "
                f"{ends_on} (UTC). Renew it with an amendment, or let it end."
            ),
            target_reference=f"agreement:{agreement.public_id}",
            dedupe_key=f"agreement:{agreement.public_id}:v{version.number}:ends:{days}",
        )
        sent += notice is not None
    return sent
