"""Who may see a talent, and who acts for one.

Scoping follows DESIGN.md ("Who uses it"); a talent outside a user's scope does not exist
for that user (NotFound, 404), so ids never leak:

- staff: every talent; reading personal data (legal name, date of birth) is audited;
- talent: only their own record (a minor talent too, although a guardian acts for them);
- guardian / estate: the talents they are the principal for now, that is a minor with a
  current guardianship, or a deceased talent with a current estate authority;
- agent and agency legal: the talents their agency currently represents, directly or as
  the mother agency;
- brand users (legal, campaign manager): none yet. Agreements (a later issue) will open a
  minimal profile of the talents their brand has an agreement with, never personal data.

Personal data goes to the talent, their current principals, members of the agency that
represents the talent directly under a current representation (they sign and verify in
the legal name), and staff (audited). Everyone else who can see a talent gets its profile.
"""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from rightsdesk.accounts.models import Role, User
from rightsdesk.accounts.selectors import user_agency_id, user_is_staff
from rightsdesk.audit.services import audit_record
from rightsdesk.core.errors import NotFound, NotPrincipal
from rightsdesk.core.jurisdictions import age_of_majority
from rightsdesk.talent.models import (
    CaptureImage,
    CaptureSession,
    Representation,
    Talent,
    TalentProxy,
)

# Power names used across apps -> the Representation field that grants each.
POWER_FIELDS: dict[str, str] = {
    "negotiate": "can_negotiate_uses",
    "approve_outputs": "can_approve_outputs",
    "view_earnings": "can_view_earnings",
}


@dataclass(frozen=True)
class TalentPersonalData:
    legal_name: str
    date_of_birth: date
    jurisdiction: str
    age_of_majority: int
    preferred_language: str


def current_q(at: datetime) -> Q:
    """Rows whose [valid_from, valid_to) interval contains ``at``."""
    return Q(valid_from__lte=at) & (Q(valid_to__isnull=True) | Q(valid_to__gt=at))


def _day(at: datetime) -> date:
    # Minor status turns on the calendar day in UTC (TIME_ZONE), not in the talent's zone.
    return timezone.localdate(at)


def _acts_as_proxy_now(*, talent: Talent, kind: str, at: datetime) -> bool:
    if kind == TalentProxy.Kind.ESTATE:
        return talent.deceased
    return not talent.deceased and talent.is_minor(on=_day(at))


def talent_principal_users(*, talent: Talent, at: datetime | None = None) -> list[User]:
    """The users who are the principal for ``talent`` at ``at`` (default now).

    An estate when the talent is deceased, a guardian while the talent is a minor (the
    minor themself is not the principal then), otherwise the talent's own account.
    """
    at = at or timezone.now()
    if talent.deceased:
        kind = TalentProxy.Kind.ESTATE
    elif talent.is_minor(on=_day(at)):
        kind = TalentProxy.Kind.GUARDIAN
    else:
        user = talent.user
        if user is not None and user.is_active and user.role == Role.TALENT:
            return [user]
        return []
    proxies = TalentProxy.objects.filter(current_q(at), talent=talent, kind=kind)
    return list(
        User.objects.filter(pk__in=proxies.values("user_id"), is_active=True, role=kind).order_by(
            "pk"
        )
    )


def ensure_principal(*, user: User, talent: Talent, at: datetime | None = None) -> None:
    """Raise NotPrincipal unless ``user`` is the principal for ``talent`` now.

    Agents, legal, campaign managers and staff are never principals: only the talent, a
    guardian or an estate may consent to capture or training (NY Fashion Workers Act §1035).
    """
    if not any(p.pk == user.pk for p in talent_principal_users(talent=talent, at=at)):
        raise NotPrincipal()


def agent_has_power(*, user: User, talent: Talent, power: str, at: datetime | None = None) -> bool:
    """Whether an agent's agency currently represents ``talent`` with ``power``.

    ``power`` is one of "negotiate", "approve_outputs", "view_earnings". The mother agency
    shares the commission but holds no powers.
    """
    try:
        field = POWER_FIELDS[power]
    except KeyError:
        raise ValueError(f"unknown power {power!r}; expected one of {sorted(POWER_FIELDS)}")
    if not (user.is_active and user.role == Role.AGENT and user.organization_id):
        return False
    return Representation.objects.filter(
        current_q(at or timezone.now()),
        talent=talent,
        agency_id=user.organization_id,
        **{field: True},
    ).exists()


def agent_represents(*, user: User, talent: Talent, at: datetime | None = None) -> bool:
    """Whether an agent's agency directly represents ``talent`` now (any powers)."""
    if not (user.is_active and user.role == Role.AGENT and user.organization_id):
        return False
    return Representation.objects.filter(
        current_q(at or timezone.now()), talent=talent, agency_id=user.organization_id
    ).exists()


def _proxied_talent_ids(*, user: User, kind: str, at: datetime) -> list[int]:
    proxies = TalentProxy.objects.filter(current_q(at), user=user, kind=kind)
    candidates = Talent.objects.filter(pk__in=proxies.values("talent_id"))
    return [t.pk for t in candidates if _acts_as_proxy_now(talent=t, kind=kind, at=at)]


def talent_list_visible_to(*, user: User) -> QuerySet[Talent]:
    """Every talent ``user`` may see, newest first. Lists never carry personal data."""
    talents = Talent.objects.order_by("-created_at", "-pk")
    if not (user.is_authenticated and user.is_active):
        return talents.none()
    if user_is_staff(user=user):
        return talents
    at = timezone.now()
    if user.role == Role.TALENT:
        return talents.filter(user=user)
    if user.role in (Role.GUARDIAN, Role.ESTATE):
        return talents.filter(pk__in=_proxied_talent_ids(user=user, kind=user.role, at=at))
    agency_id = user_agency_id(user=user)
    if agency_id is not None:
        represented = Representation.objects.filter(
            current_q(at), Q(agency_id=agency_id) | Q(mother_agency_id=agency_id)
        )
        return talents.filter(pk__in=represented.values("talent_id"))
    # Brand users reach talents only through agreements, which a later issue brings.
    return talents.none()


def talent_get_visible_to(*, user: User, public_id: UUID | str) -> Talent:
    try:
        return talent_list_visible_to(user=user).select_related("user").get(public_id=public_id)
    except (Talent.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such talent.")


def talent_may_read_personal_data(
    *, user: User, talent: Talent, at: datetime | None = None
) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    if user_is_staff(user=user):
        return True
    if user.role == Role.TALENT:
        return talent.user_id == user.pk
    if user.role in (Role.GUARDIAN, Role.ESTATE):
        return any(p.pk == user.pk for p in talent_principal_users(talent=talent, at=at))
    agency_id = user_agency_id(user=user)
    if agency_id is None:
        return False
    return Representation.objects.filter(
        current_q(at or timezone.now()), talent=talent, agency_id=agency_id
    ).exists()


def talent_personal_data_get(
    *, user: User, talent: Talent, via: str = "api"
) -> TalentPersonalData | None:
    """The talent's personal data if ``user`` may read it, else None.

    A staff read is recorded as "talent.personal_data_read" (DESIGN.md: every staff read of
    personal data is audited); other readers are the talent's own side.
    """
    if not talent_may_read_personal_data(user=user, talent=talent):
        return None
    if user_is_staff(user=user):
        with transaction.atomic():
            audit_record(
                actor=user,
                action="talent.personal_data_read",
                target=talent,
                payload={"via": via, "fields": ["legal_name", "date_of_birth", "jurisdiction"]},
            )
    return TalentPersonalData(
        legal_name=talent.legal_name,
        date_of_birth=talent.date_of_birth,
        jurisdiction=talent.jurisdiction,
        age_of_majority=age_of_majority(talent.jurisdiction),
        preferred_language=talent.preferred_language,
    )


def representation_list_visible_to(*, user: User) -> QuerySet[Representation]:
    """Representations visible to the talent's side and to the agencies party to them."""
    representations = Representation.objects.select_related(
        "talent", "agency", "mother_agency"
    ).order_by("-valid_from", "-pk")
    if not (user.is_authenticated and user.is_active):
        return representations.none()
    if user_is_staff(user=user):
        return representations
    if user.role == Role.TALENT:
        return representations.filter(talent__user=user)
    if user.role in (Role.GUARDIAN, Role.ESTATE):
        ids = _proxied_talent_ids(user=user, kind=user.role, at=timezone.now())
        return representations.filter(talent_id__in=ids)
    agency_id = user_agency_id(user=user)
    if agency_id is not None:
        return representations.filter(Q(agency_id=agency_id) | Q(mother_agency_id=agency_id))
    return representations.none()


def representation_get_visible_to(*, user: User, public_id: UUID | str) -> Representation:
    try:
        return representation_list_visible_to(user=user).get(public_id=public_id)
    except (Representation.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such representation.")


# Capture sessions: seen by whoever sees the talent (its side and staff); metadata only,
# the images' bytes are never read here.


def capture_session_list_visible_to(*, user: User) -> QuerySet[CaptureSession]:
    """The capture sessions ``user`` may see, latest scheduled first, with ``image_count``."""
    sessions = (
        CaptureSession.objects.select_related("talent")
        .annotate(image_count=Count("images"))
        .order_by("-scheduled_at", "-pk")
    )
    if not (user.is_authenticated and user.is_active):
        return sessions.none()
    if user_is_staff(user=user):
        return sessions
    return sessions.filter(talent__in=talent_list_visible_to(user=user).order_by().values("pk"))


def capture_session_get_visible_to(*, user: User, public_id: UUID | str) -> CaptureSession:
    try:
        return capture_session_list_visible_to(user=user).get(public_id=public_id)
    except (CaptureSession.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such capture session.")


def capture_images_of(*, session: CaptureSession) -> QuerySet[CaptureImage]:
    """The session's images' metadata in upload order (the caller has the session already)."""
    return CaptureImage.objects.filter(session=session).order_by("created_at", "pk")


def talent_deciders(*, talent: Talent, power: str) -> list[User]:
    """Who decides for ``talent`` on what needs ``power`` ("negotiate" for briefs,
    "approve_outputs" for images): the principal, and the agents of every agency whose
    current representation holds that power."""
    users = {user.pk: user for user in talent_principal_users(talent=talent)}
    agencies = Representation.objects.filter(
        current_q(timezone.now()), talent=talent, **{POWER_FIELDS[power]: True}
    ).values("agency_id")
    agents = User.objects.filter(role=Role.AGENT, is_active=True, organization_id__in=agencies)
    users.update({agent.pk: agent for agent in agents.order_by("pk")})
    return list(users.values())


def may_read_earnings(*, user: User, talent: Talent) -> bool:
    """Whether ``user`` may read what ``talent`` earned: the talent, their principal (a
    guardian or estate), or an agent whose representation grants ``view_earnings``.
    Statements, the earnings chart and the earnings column of the twin in market all
    ask this one rule."""
    if talent.user_id is not None and talent.user_id == user.pk:
        return True
    if any(p.pk == user.pk for p in talent_principal_users(talent=talent)):
        return True
    return agent_has_power(user=user, talent=talent, power="view_earnings")
