"""Writes for talents, the people who act for them, and their agencies' mandates.

Audit payloads never carry personal data (legal name, date of birth): the audit chain is
append-only and cannot be erased on request, so it names the talent by its target id.
"""

import hashlib
import re
from datetime import date, datetime
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.accounts.services import user_deactivate
from rightsdesk.audit.services import audit_record
from rightsdesk.core.errors import (
    CommissionAboveCap,
    GuardianRequired,
    InvalidTransition,
    MinorNotAllowed,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.core.jurisdictions import age_of_majority, is_minor
from rightsdesk.talent.errors import (
    IdentityAlreadyVerified,
    ProxyExists,
    RepresentationOverlaps,
    TalentAlreadyDeceased,
)
from rightsdesk.talent.models import Representation, Talent, TalentNameGram, TalentProxy
from rightsdesk.talent.names import name_grams

# Re-exported: later issues import these checks from here (their home is selectors.py).
from rightsdesk.talent.selectors import (  # noqa: F401
    POWER_FIELDS,
    agent_has_power,
    agent_represents,
    ensure_principal,
    talent_principal_users,
)

IDENTITY_METHODS = ("document_check", "in_person", "video_call", "electronic_id")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


def normalise_jurisdiction(value: str) -> str:
    code = value.strip().upper()
    if not _JURISDICTION.match(code):
        raise ValidationFailed(
            fields={"jurisdiction": ["Use an ISO 3166-1 alpha-2 or ISO 3166-2 code."]}
        )
    return code


def authority_sha256(*, document: File | None, sha256: str) -> str:
    """The authority document's SHA-256: computed from the file when one is given."""
    claimed = sha256.strip().lower()
    if document is not None:
        digest = hashlib.sha256()
        for chunk in document.chunks():
            digest.update(chunk)
        document.seek(0)
        if claimed and claimed != digest.hexdigest():
            raise ValidationFailed(
                fields={"authority_document_sha256": ["Does not match the document."]}
            )
        return digest.hexdigest()
    if not _SHA256.match(claimed):
        raise ValidationFailed(
            fields={"authority_document_sha256": ["The authority document's SHA-256 is required."]}
        )
    return claimed


def talent_check_new(
    *,
    legal_name: str,
    date_of_birth: date,
    jurisdiction: str,
    user: User | None,
    guardian: User | None,
) -> bool:
    """Validate a new talent; return whether they are a minor today. Raises on refusal."""
    if not legal_name.strip():
        raise ValidationFailed(fields={"legal_name": ["A legal name is required."]})
    today = timezone.localdate()
    if date_of_birth > today:
        raise ValidationFailed(fields={"date_of_birth": ["The date of birth is in the future."]})
    if user is not None:
        if user.role != Role.TALENT or not user.is_active:
            raise ValidationFailed(fields={"user": ["The account must be an active talent."]})
        if Talent.objects.filter(user=user).exists():
            raise ValidationFailed(fields={"user": ["This account already has a talent."]})
    minor = is_minor(date_of_birth=date_of_birth, jurisdiction=jurisdiction, on=today)
    if minor and not settings.RIGHTSDESK_ALLOW_MINORS:
        raise MinorNotAllowed(
            jurisdiction=jurisdiction, age_of_majority=age_of_majority(jurisdiction)
        )
    if minor and guardian is None:
        raise GuardianRequired()
    if not minor and guardian is not None:
        raise ValidationFailed(fields={"guardian": ["Only a minor has a guardian act for them."]})
    return minor


@transaction.atomic
def talent_create(
    *,
    legal_name: str,
    date_of_birth: date,
    jurisdiction: str,
    stage_name: str = "",
    user: User | None = None,
    preferred_language: str = "en",
    stage_name_public: bool = False,
    guardian: User | None = None,
    guardian_authority_document: File | None = None,
    guardian_authority_document_sha256: str = "",
    actor: User | None,
) -> Talent:
    """Register a talent. A minor is refused unless the instance allows minors and a
    guardian, with the document that gives them authority, acts for them."""
    jurisdiction = normalise_jurisdiction(jurisdiction)
    minor = talent_check_new(
        legal_name=legal_name,
        date_of_birth=date_of_birth,
        jurisdiction=jurisdiction,
        user=user,
        guardian=guardian,
    )
    talent = Talent.objects.create(
        user=user,
        legal_name=legal_name.strip(),
        stage_name=stage_name.strip(),
        date_of_birth=date_of_birth,
        jurisdiction=jurisdiction,
        preferred_language=preferred_language,
        stage_name_public=stage_name_public,
    )
    talent_names_index(talent=talent)
    audit_record(
        actor=actor,
        action="talent.created",
        target=talent,
        payload={
            "jurisdiction": jurisdiction,
            "minor": minor,
            "user": user.pk if user else None,
            "stage_name_public": stage_name_public,
        },
    )
    if minor:
        talent_proxy_add(
            talent=talent,
            user=guardian,
            kind=TalentProxy.Kind.GUARDIAN,
            authority_document=guardian_authority_document,
            authority_document_sha256=guardian_authority_document_sha256,
            actor=actor,
        )
    return talent


@transaction.atomic
def talent_names_index(*, talent: Talent) -> list[TalentNameGram]:
    """Rebuild the talent's rows in the brief screen's name index (legal and stage name).

    Call it whenever a name or ``stage_name_distinctive`` changes; the gate reads the
    distinctive flag from the talent itself, the copy here is for the admin's eyes.
    """
    TalentNameGram.objects.filter(talent=talent).delete()
    rows = {
        (gram, source): TalentNameGram(
            talent=talent,
            gram=gram,
            words=len(gram.split()),
            source=source,
            distinctive=source == "stage_name" and talent.stage_name_distinctive,
        )
        for source, name in (("legal_name", talent.legal_name), ("stage_name", talent.stage_name))
        for gram in name_grams(name)
    }
    return TalentNameGram.objects.bulk_create(rows.values())


def talent_proxy_check_new(
    *, talent: Talent, user: User, kind: str, valid_from: datetime, valid_to: datetime | None
) -> None:
    """Validate a new guardian or estate. Raises on refusal."""
    if kind not in TalentProxy.Kind.values:
        raise ValidationFailed(fields={"kind": [f"Unknown kind {kind!r}."]})
    if user.role != kind or not user.is_active:
        raise ValidationFailed(fields={"user": [f"The account must be an active {kind}."]})
    if kind == TalentProxy.Kind.GUARDIAN and (talent.deceased or not talent.is_minor()):
        raise ValidationFailed(fields={"kind": ["Only a living minor has a guardian."]})
    if kind == TalentProxy.Kind.ESTATE and not talent.deceased:
        raise ValidationFailed(fields={"kind": ["Only a deceased talent has an estate."]})
    if valid_to is not None and valid_to <= valid_from:
        raise ValidationFailed(fields={"valid_to": ["Must be after valid_from."]})
    if TalentProxy.objects.filter(talent=talent, user=user, kind=kind).exists():
        raise ProxyExists()


@transaction.atomic
def talent_proxy_add(
    *,
    talent: Talent,
    user: User,
    kind: str,
    authority_document: File | None = None,
    authority_document_sha256: str = "",
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    actor: User | None,
) -> TalentProxy:
    """Record a guardian (for a minor) or an estate (for a deceased talent) with the
    document that gives them authority."""
    talent = Talent.objects.select_for_update().get(pk=talent.pk)
    valid_from = valid_from or timezone.now()
    talent_proxy_check_new(
        talent=talent, user=user, kind=kind, valid_from=valid_from, valid_to=valid_to
    )
    sha256 = authority_sha256(document=authority_document, sha256=authority_document_sha256)
    proxy = TalentProxy(
        talent=talent,
        user=user,
        kind=kind,
        authority_document_sha256=sha256,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    if authority_document is not None:
        suffix = Path(authority_document.name or "").suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ".bin"
        proxy.authority_document.save(f"{sha256}{suffix}", authority_document, save=False)
    proxy.save()
    audit_record(
        actor=actor,
        action="talent.proxy_added",
        target=proxy,
        payload={
            "talent": str(talent.public_id),
            "kind": kind,
            "authority_document_sha256": sha256,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
        },
    )
    return proxy


@transaction.atomic
def talent_mark_deceased(
    *,
    talent: Talent,
    estate: User,
    authority_document: File | None = None,
    authority_document_sha256: str = "",
    actor: User | None,
) -> Talent:
    """Record a death; the estate named by its authority document becomes the principal.

    The talent's own account is deactivated so nobody can act in the talent's name.
    """
    talent = Talent.objects.select_for_update().get(pk=talent.pk)
    if talent.deceased:
        raise TalentAlreadyDeceased()
    talent.deceased = True
    talent.save(update_fields=["deceased", "updated_at"])
    audit_record(actor=actor, action="talent.marked_deceased", target=talent, payload={})
    talent_proxy_add(
        talent=talent,
        user=estate,
        kind=TalentProxy.Kind.ESTATE,
        authority_document=authority_document,
        authority_document_sha256=authority_document_sha256,
        actor=actor,
    )
    if talent.user is not None:
        user_deactivate(user=talent.user, actor=actor)
    return talent


@transaction.atomic
def talent_verify_identity(*, talent: Talent, method: str, actor: User) -> Talent:
    """Attest the talent's identity (required before any capture).

    Staff, or an agent of an agency that represents the talent now, may attest.
    """
    if method not in IDENTITY_METHODS:
        raise ValidationFailed(fields={"method": [f"One of: {', '.join(IDENTITY_METHODS)}."]})
    by_staff = user_is_staff(user=actor)
    if not by_staff and not agent_represents(user=actor, talent=talent):
        raise PermissionDenied("Only staff or the representing agency may attest identity.")
    talent = Talent.objects.select_for_update().get(pk=talent.pk)
    if talent.identity_verified_at is not None:
        raise IdentityAlreadyVerified()
    talent.identity_verified_at = timezone.now()
    talent.identity_verified_by = actor
    talent.identity_verification_method = method
    talent.save(
        update_fields=[
            "identity_verified_at",
            "identity_verified_by",
            "identity_verification_method",
            "updated_at",
        ]
    )
    audit_record(
        actor=actor,
        action="talent.identity_verified",
        target=talent,
        payload={
            "method": method,
            "attested_by_role": actor.role,
            "agency": None if by_staff else str(actor.organization.public_id),
        },
    )
    return talent


def representation_check_new(
    *,
    talent: Talent,
    agency: Organization,
    commission_bps: int,
    valid_from: datetime,
    valid_to: datetime | None,
    mother_agency: Organization | None,
    mother_agency_share_bps: int,
) -> None:
    """Validate a new representation's terms. Raises on refusal."""
    if agency.kind != Organization.Kind.AGENCY:
        raise ValidationFailed(fields={"agency": ["Must be an agency."]})
    cap = settings.RIGHTSDESK_MAX_COMMISSION_BPS
    if commission_bps < 0:
        raise ValidationFailed(fields={"commission_bps": ["Must not be negative."]})
    if commission_bps > cap:
        raise CommissionAboveCap(commission_bps=commission_bps, cap_bps=cap)
    if valid_to is not None and valid_to <= valid_from:
        raise ValidationFailed(fields={"valid_to": ["Must be after valid_from."]})
    if mother_agency is None and mother_agency_share_bps:
        raise ValidationFailed(
            fields={"mother_agency_share_bps": ["A share needs a mother agency."]}
        )
    if mother_agency is not None and (
        mother_agency.kind != Organization.Kind.AGENCY or mother_agency.pk == agency.pk
    ):
        raise ValidationFailed(fields={"mother_agency": ["Must be another agency."]})
    if not 0 <= mother_agency_share_bps <= 10000:
        raise ValidationFailed(
            fields={"mother_agency_share_bps": ["Basis points of the commission, 0 to 10,000."]}
        )
    overlapping = Representation.objects.filter(talent=talent, agency=agency).exclude(
        valid_to__isnull=False, valid_to__lte=valid_from
    )
    if valid_to is not None:
        overlapping = overlapping.filter(valid_from__lt=valid_to)
    if overlapping.exists():
        raise RepresentationOverlaps()


def _may_act_for_agency(*, actor: User, agency: Organization) -> bool:
    if user_is_staff(user=actor):
        return True
    return actor.is_active and actor.role == Role.AGENT and actor.organization_id == agency.pk


@transaction.atomic
def representation_create(
    *,
    talent: Talent,
    agency: Organization,
    commission_bps: int,
    powers: frozenset[str] | set[str] = frozenset(),
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    mother_agency: Organization | None = None,
    mother_agency_share_bps: int = 0,
    actor: User,
) -> Representation:
    """Record an agency's mandate for a talent: commission (capped by
    RIGHTSDESK_MAX_COMMISSION_BPS, the NY Fashion Workers Act's 20%), powers and term."""
    if not _may_act_for_agency(actor=actor, agency=agency):
        raise PermissionDenied("Only staff or an agent of the agency may record its mandate.")
    unknown = set(powers) - set(POWER_FIELDS)
    if unknown:
        raise ValidationFailed(fields={"powers": [f"Unknown: {', '.join(sorted(unknown))}."]})
    valid_from = valid_from or timezone.now()
    # Lock the talent so two overlapping mandates cannot be recorded at once.
    talent = Talent.objects.select_for_update().get(pk=talent.pk)
    representation_check_new(
        talent=talent,
        agency=agency,
        commission_bps=commission_bps,
        valid_from=valid_from,
        valid_to=valid_to,
        mother_agency=mother_agency,
        mother_agency_share_bps=mother_agency_share_bps,
    )
    representation = Representation.objects.create(
        talent=talent,
        agency=agency,
        commission_bps=commission_bps,
        valid_from=valid_from,
        valid_to=valid_to,
        mother_agency=mother_agency,
        mother_agency_share_bps=mother_agency_share_bps,
        **{field: name in powers for name, field in POWER_FIELDS.items()},
    )
    audit_record(
        actor=actor,
        action="representation.created",
        target=representation,
        payload={
            "talent": str(talent.public_id),
            "agency": str(agency.public_id),
            "commission_bps": commission_bps,
            "powers": sorted(powers),
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
            "mother_agency": str(mother_agency.public_id) if mother_agency else None,
            "mother_agency_share_bps": mother_agency_share_bps,
        },
    )
    return representation


@transaction.atomic
def representation_end(
    *, representation: Representation, actor: User, ended_at: datetime | None = None
) -> Representation:
    """End a mandate. The agency, staff or the talent's principal may end it."""
    representation = Representation.objects.select_for_update().get(pk=representation.pk)
    talent = representation.talent
    if not (
        _may_act_for_agency(actor=actor, agency=representation.agency)
        or any(p.pk == actor.pk for p in talent_principal_users(talent=talent))
    ):
        raise PermissionDenied("Only the agency, staff or the talent may end this mandate.")
    ended_at = ended_at or timezone.now()
    if representation.valid_to is not None and representation.valid_to <= ended_at:
        raise InvalidTransition("This representation has already ended.")
    if ended_at <= representation.valid_from:
        raise ValidationFailed(fields={"ended_at": ["Must be after the representation began."]})
    representation.valid_to = ended_at
    representation.save(update_fields=["valid_to", "updated_at"])
    audit_record(
        actor=actor,
        action="representation.ended",
        target=representation,
        payload={"talent": str(talent.public_id), "ended_at": ended_at.isoformat()},
    )
    return representation
