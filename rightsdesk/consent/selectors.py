"""Reads of creation consents and withdrawals, scoped to who may see them.

Creation consents are seen by the talent's side (the talent, a current guardian or
estate, the agencies representing the talent, read-only) and staff, that is whoever may
see the talent. Withdrawals are seen by the same people and, for a withdrawal from a
licence or an agreement, by the brand that holds it; never by another brand. Anything
outside that answers 404.

When several withdrawals cover the same thing (a contractual one upgraded to a withdrawal
under data-protection law, or a licence withdrawn on its own and with its agreement), the
earliest effective time and the earliest end of run-off govern.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.agreements.models import Agreement
from rightsdesk.consent.models import CreationConsent, Withdrawal
from rightsdesk.core import rawsql
from rightsdesk.core.errors import NotFound
from rightsdesk.licensing.models import Licence
from rightsdesk.talent.models import Talent
from rightsdesk.talent.selectors import talent_list_visible_to

TARGET_LICENCE = "licence"
TARGET_AGREEMENT = "agreement"
TARGET_CREATION_CONSENT = "creation_consent"
TARGET_TYPES = (TARGET_LICENCE, TARGET_AGREEMENT, TARGET_CREATION_CONSENT)

Target = Licence | Agreement | CreationConsent


class WithdrawalWindow(NamedTuple):
    effective_at: datetime
    run_off_until: datetime


class PermissionStatus(NamedTuple):
    """``("current", until)``, ``("ending", run_off_until)`` or ``("ended", since)``."""

    state: str
    until: datetime


@dataclass(frozen=True)
class ConsentHistoryEntry:
    at: datetime
    event: str  # "given" or "withdrawn"
    creation_consent: CreationConsent
    withdrawal: Withdrawal | None


def _brand_id(*, user: User) -> int | None:
    """The brand of an active brand user (legal or campaign manager), else None."""
    if not (user.is_authenticated and user.is_active) or user.organization_id is None:
        return None
    if user.role not in (Role.LEGAL, Role.CAMPAIGN_MANAGER):
        return None
    if user.organization.kind != Organization.Kind.BRAND:
        return None
    return user.organization_id


def _visible_talents(*, user: User) -> QuerySet[Talent]:
    return talent_list_visible_to(user=user).order_by().values("pk")


# Creation consents


def creation_consent_list_visible_to(*, user: User) -> QuerySet[CreationConsent]:
    """The consents ``user`` may read, in the order they were given, each annotated with
    ``withdrawn_at`` (when its earliest withdrawal takes effect, or None)."""
    consents = (
        CreationConsent.objects.select_related("talent", "notice", "given_by")
        .annotate(withdrawn_at=Min("withdrawal__effective_at"))
        .order_by("answered_at", "pk")
    )
    if not (user.is_authenticated and user.is_active):
        return consents.none()
    if user_is_staff(user=user):
        return consents
    return consents.filter(talent__in=_visible_talents(user=user))


def creation_consent_get_visible_to(*, user: User, public_id: UUID | str) -> CreationConsent:
    try:
        return creation_consent_list_visible_to(user=user).get(public_id=public_id)
    except (CreationConsent.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such creation consent.")


def consent_history_for_talent(*, talent: Talent) -> list[ConsentHistoryEntry]:
    """Every consent given and every withdrawal of one, in time order (never edited)."""
    entries = [
        ConsentHistoryEntry(at=c.answered_at, event="given", creation_consent=c, withdrawal=None)
        for c in CreationConsent.objects.filter(talent=talent).select_related("notice")
    ]
    withdrawals = Withdrawal.objects.filter(creation_consent__talent=talent).select_related(
        "creation_consent"
    )
    entries += [
        ConsentHistoryEntry(
            at=w.requested_at, event="withdrawn", creation_consent=w.creation_consent, withdrawal=w
        )
        for w in withdrawals
    ]
    # Ties (same instant): a consent before its withdrawal, then by insertion order.
    return sorted(
        entries,
        key=lambda e: (e.at, e.event == "withdrawn", (e.withdrawal or e.creation_consent).pk),
    )


def creation_consent_withdrawn_at(*, creation_consent: CreationConsent) -> datetime | None:
    """When the earliest withdrawal of this consent takes effect, if any."""
    return Withdrawal.objects.filter(creation_consent=creation_consent).aggregate(
        at=Min("effective_at")
    )["at"]


def creation_consent_in_force(
    *, talent: Talent, kind: str, base_model: str = "", at: datetime | None = None
) -> CreationConsent | None:
    """The latest consent of ``kind`` (for ``train``, on ``base_model``) given by ``at`` and
    not withdrawn by then, or None."""
    at = rawsql.param(CreationConsent, "answered_at", at or timezone.now())
    # Written by hand: every signed draft names the training consent it was made under
    # (rightsdesk.core.rawsql). Not NULL: a NOT IN over a list holding NULL excludes every
    # row (licence withdrawals have none).
    cols = rawsql.columns(CreationConsent, "c")
    sql = (
        f"SELECT {cols.sql} FROM {CreationConsent._meta.db_table} c "  # noqa: S608 - names from the model
        "WHERE c.talent_id = %s AND c.kind = %s AND c.answered_at <= %s "
        + ("AND c.base_model = %s " if kind == "train" else "")
        + f"AND c.id NOT IN (SELECT w.creation_consent_id FROM {Withdrawal._meta.db_table} w "  # noqa: S608
        "WHERE w.talent_id = %s AND w.creation_consent_id IS NOT NULL AND w.effective_at <= %s) "
        "ORDER BY c.answered_at DESC, c.id DESC LIMIT 1"
    )
    params = [talent.pk, kind, at, *([base_model] if kind == "train" else []), talent.pk, at]
    rows = rawsql.fetch(sql, params)
    return rawsql.build(cols, rows[0]) if rows else None


# Withdrawals


def withdrawal_list_visible_to(*, user: User) -> QuerySet[Withdrawal]:
    """The withdrawals ``user`` may read, in the order they were requested."""
    withdrawals = Withdrawal.objects.select_related(
        "talent", "licence", "agreement", "creation_consent", "requested_by", "withdrawalapplied"
    ).order_by("requested_at", "pk")
    if not (user.is_authenticated and user.is_active):
        return withdrawals.none()
    if user_is_staff(user=user):
        return withdrawals
    brand_id = _brand_id(user=user)
    if brand_id is not None:
        return withdrawals.filter(Q(licence__brand_id=brand_id) | Q(agreement__brand_id=brand_id))
    return withdrawals.filter(talent__in=_visible_talents(user=user))


def withdrawal_get_visible_to(*, user: User, public_id: UUID | str) -> Withdrawal:
    try:
        return withdrawal_list_visible_to(user=user).get(public_id=public_id)
    except (Withdrawal.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such withdrawal.")


def withdrawals_for_target(*, target: Target) -> QuerySet[Withdrawal]:
    """The withdrawals of exactly this licence, agreement or consent, in time order."""
    field = {Licence: "licence", Agreement: "agreement", CreationConsent: "creation_consent"}[
        type(target)
    ]
    return Withdrawal.objects.filter(**{field: target}).order_by("requested_at", "pk")


def withdrawal_target_get_visible_to(
    *, user: User, target_type: str, public_id: UUID | str
) -> Target:
    """The licence, agreement or consent ``user`` may see (the brand sees its own licences
    and agreements; the talent's side sees the talent's); otherwise NotFound."""
    if target_type == TARGET_CREATION_CONSENT:
        return creation_consent_get_visible_to(user=user, public_id=public_id)
    model = {TARGET_LICENCE: Licence, TARGET_AGREEMENT: Agreement}.get(target_type)
    if model is None:
        raise NotFound("No such target.")
    rows = model.objects.select_related("talent")
    if not (user.is_authenticated and user.is_active):
        rows = rows.none()
    elif not user_is_staff(user=user):
        brand_id = _brand_id(user=user)
        if brand_id is not None:
            rows = rows.filter(brand_id=brand_id)
        else:
            rows = rows.filter(talent__in=_visible_talents(user=user))
    try:
        return rows.get(public_id=public_id)
    except (model.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound(f"No such {target_type}.")


def withdrawal_window_for(*, target: Target) -> WithdrawalWindow | None:
    """The governing window of the withdrawals covering ``target``: a licence is covered by
    its own withdrawals and its agreement's."""
    if isinstance(target, Licence):
        covering = Q(licence=target) | Q(agreement_id=target.agreement_id)
    elif isinstance(target, Agreement):
        covering = Q(agreement=target)
    else:
        covering = Q(creation_consent=target)
    window = Withdrawal.objects.filter(covering).aggregate(
        effective_at=Min("effective_at"), run_off_until=Min("run_off_until")
    )
    if window["effective_at"] is None:
        return None
    return WithdrawalWindow(window["effective_at"], window["run_off_until"])


def licence_natural_end(*, licence: Licence) -> datetime:
    """When the use ends without any withdrawal: the longest usage row counted from first
    publication once published; before that, the end of the window to make assets."""
    if licence.first_published_at is None:
        return licence.ends_at
    longest = licence.usage_rows.aggregate(days=Max("duration_days"))["days"]
    if longest is None:
        return licence.ends_at
    return licence.first_published_at + timedelta(days=longest)


def licence_permission_status(*, licence: Licence, at: datetime | None = None) -> PermissionStatus:
    """Whether using the licence's assets is permitted at ``at`` (verification's answer)."""
    accepted = licence.accepted_at is not None
    window = withdrawal_window_for(target=licence) if accepted else None
    return permission_status_from(
        accepted_at=licence.accepted_at,
        withdrawn_without_record=licence.status == Licence.Status.WITHDRAWN,
        updated_at=licence.updated_at,
        natural_end=licence_natural_end(licence=licence) if accepted else None,
        terminated_at=licence.agreement.terminated_at if accepted else None,
        effective_at=window.effective_at if window else None,
        run_off_until=window.run_off_until if window else None,
        at=at,
    )


def permission_status_from(
    *,
    accepted_at: datetime | None,
    withdrawn_without_record: bool,
    updated_at: datetime,
    natural_end: datetime | None,
    terminated_at: datetime | None,
    effective_at: datetime | None,
    run_off_until: datetime | None,
    at: datetime | None = None,
) -> PermissionStatus:
    """The permission rule on plain facts; verification's one-query card applies it too.

    current until a withdrawal takes effect or the licence ends; then ending while released
    assets may stay in market (run-off, never past the licence's own end); then ended. A
    licence never accepted was never a permission: ended.
    """
    at = at or timezone.now()
    if accepted_at is None:
        return PermissionStatus("ended", at)
    hard_end = natural_end
    if terminated_at is not None:
        hard_end = min(hard_end, terminated_at)
    if effective_at is None or effective_at >= hard_end:
        if withdrawn_without_record and effective_at is None:
            # Withdrawn without a Withdrawal row (a licensing operation): over since then.
            return PermissionStatus("ended", min(updated_at, at))
        return PermissionStatus("current", hard_end) if at < hard_end else _ended(hard_end)
    if at < effective_at:
        return PermissionStatus("current", effective_at)
    run_off_end = min(run_off_until, hard_end)
    if at < run_off_end:
        return PermissionStatus("ending", run_off_end)
    return _ended(run_off_end)


def _ended(since: datetime) -> PermissionStatus:
    return PermissionStatus("ended", since)
