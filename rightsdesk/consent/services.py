"""Creation consents and withdrawals: the principal's word, recorded and never edited.

Consent to capture and to train is the principal's alone (the adult talent, a current
guardian of a minor, a current estate of a deceased talent). An agent never gives it,
whatever powers its mandate grants (NY Fashion Workers Act §1035). Each consent keeps the
evidence Ethyca Fides keeps: which notice text (by hash) was served and when, when and how
it was answered, and by whom.

A withdrawal is a new row. From a licence or an agreement (the uses), the principal or an
agent with the power to negotiate uses may withdraw; from a creation consent, only the
principal. Brand legal never files a Withdrawal: a brand ends its own offer through the
licence's own states, and a brand's exit from an agreement is a termination.

    contractual      effective after the agreement version's withdrawal notice days
    for cause        effective at once
    data protection  effective at once
    creation consent effective at once, whatever the kind, with no run-off

Released assets may stay in market until the effective time plus the version's run-off
days. A later withdrawal of the same thing is accepted only if it takes effect earlier
(upgrading a contractual withdrawal to one for cause, say); otherwise `already_withdrawn`.

A withdrawal takes effect through ``withdrawal_apply``, once (a WithdrawalApplied row,
unique per withdrawal): the licences it covers become `withdrawn`, a `train` consent's
likenesses are revoked, the registered hooks run (consent.hooks) and brand legal is told.
A withdrawal that is effective at once is applied in the transaction that records it; the
others by ``withdrawals_apply_due``, which celery beat runs every minute.
"""

import hashlib
import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from rightsdesk.accounts.models import Role, User
from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.audit.canonical import canonical_json
from rightsdesk.audit.services import audit_deferred, audit_record
from rightsdesk.consent.errors import (
    AlreadyWithdrawn,
    BaseModelRequired,
    ConsentRequiresPrincipal,
    NoticeMismatch,
)
from rightsdesk.consent.hooks import WithdrawalEffect, withdrawal_effective_callbacks
from rightsdesk.consent.models import (
    ConsentKind,
    ConsentNotice,
    CreationConsent,
    Withdrawal,
    WithdrawalApplied,
)
from rightsdesk.consent.notices import notice_sha256 as text_sha256
from rightsdesk.consent.selectors import Target, withdrawal_window_for
from rightsdesk.core.errors import (
    InvalidTransition,
    MinorNotAllowed,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.core.jurisdictions import age_of_majority
from rightsdesk.core.notifications import notify
from rightsdesk.licensing.models import Licence
from rightsdesk.talent.models import LikenessVersion, Talent
from rightsdesk.talent.selectors import agent_has_power, talent_principal_users

logger = logging.getLogger(__name__)

CONSENT_METHODS = ("web", "api", "paper")
# A client clock a little ahead of ours must not refuse a notice it has just shown.
SERVED_AT_SKEW = timedelta(minutes=5)
# Licence states a withdrawal ends; declined and expired licences stay as they are.
LIVE_LICENCE_STATES = (
    Licence.Status.PROPOSED,
    Licence.Status.COUNTERED,
    Licence.Status.ACCEPTED,
)
RETIRED_LIKENESS_STATES = (LikenessVersion.Status.REVOKED, LikenessVersion.Status.DESTROYED)


def _is_principal(*, user: User, talent: Talent, at: datetime) -> bool:
    return any(p.pk == user.pk for p in talent_principal_users(talent=talent, at=at))


def _ensure_consent_principal(*, user: User, talent: Talent, at: datetime) -> None:
    if _is_principal(user=user, talent=talent, at=at):
        return
    if talent.user_id == user.pk and not talent.deceased:
        raise ConsentRequiresPrincipal("A minor's consent is given or withdrawn by a guardian.")
    raise ConsentRequiresPrincipal()


# Creation consents


def _check_consent_terms(
    *, kind: str, notice: ConsentNotice, answered_sha256: str, base_model: str, method: str
) -> None:
    if kind not in ConsentKind.values:
        raise ValidationFailed(fields={"kind": [f"Unknown consent kind {kind!r}."]})
    if method not in CONSENT_METHODS:
        raise ValidationFailed(fields={"method": [f"Use one of {', '.join(CONSENT_METHODS)}."]})
    if notice.kind != kind:
        raise ValidationFailed(fields={"notice": [f"This is not the {kind} notice."]})
    # The stored hash is re-derived from the stored text: a row edited behind our back
    # cannot vouch for a text nobody was shown.
    if answered_sha256.strip().lower() != notice.sha256 or text_sha256(notice.text) != (
        notice.sha256
    ):
        raise NoticeMismatch(kind=notice.kind, version=notice.version, language=notice.language)
    if kind == ConsentKind.TRAIN and not base_model:
        raise BaseModelRequired()
    if kind == ConsentKind.CAPTURE and base_model:
        raise ValidationFailed(fields={"base_model": ["Only a training consent names one."]})


def _evidence_sha256(consent: CreationConsent) -> str:
    """Binds the row's evidence, IP address and user agent included, into the audit chain
    without writing those personal data to a log that can never be erased."""
    evidence = {
        "public_id": str(consent.public_id),
        "notice_sha256": consent.notice_sha256,
        "served_at": consent.served_at.isoformat(),
        "answered_at": consent.answered_at.isoformat(),
        "method": consent.method,
        "given_by": consent.given_by_id,
        "ip_address": consent.ip_address or "",
        "user_agent": consent.user_agent,
    }
    return hashlib.sha256(canonical_json(evidence).encode("utf-8")).hexdigest()


@transaction.atomic
def creation_consent_give(
    *,
    talent: Talent,
    kind: str,
    notice: ConsentNotice,
    notice_sha256: str,
    served_at: datetime,
    scope_reference: str = "",
    base_model: str = "",
    actor: User,
    method: str,
    ip: str | None = None,
    user_agent: str = "",
) -> CreationConsent:
    """Record the principal's consent to ``capture`` or ``train`` on a served notice."""
    now = timezone.now()
    _ensure_consent_principal(user=actor, talent=talent, at=now)
    if (
        not talent.deceased
        and talent.is_minor(on=timezone.localdate(now))
        and not settings.RIGHTSDESK_ALLOW_MINORS
    ):
        raise MinorNotAllowed(
            jurisdiction=talent.jurisdiction, age_of_majority=age_of_majority(talent.jurisdiction)
        )
    base_model = base_model.strip()
    _check_consent_terms(
        kind=kind,
        notice=notice,
        answered_sha256=notice_sha256,
        base_model=base_model,
        method=method,
    )
    if served_at > now + SERVED_AT_SKEW:
        raise ValidationFailed(fields={"served_at": ["The notice cannot be served in the future."]})
    consent = CreationConsent.objects.create(
        talent=talent,
        kind=kind,
        notice=notice,
        notice_sha256=notice.sha256,
        scope_reference=scope_reference.strip(),
        base_model=base_model,
        given_by=actor,
        given_role=actor.role,
        served_at=served_at,
        answered_at=now,
        method=method,
        ip_address=ip or None,
        user_agent=user_agent[:1000],
        public_id=uuid.uuid4(),
    )
    audit_record(
        actor=actor,
        action="creation_consent.given",
        target=consent,
        payload={
            "talent": str(talent.public_id),
            "kind": kind,
            "notice": {
                "kind": notice.kind,
                "version": notice.version,
                "language": notice.language,
                "sha256": notice.sha256,
            },
            "served_at": served_at.isoformat(),
            "answered_at": now.isoformat(),
            "method": method,
            "given_role": actor.role,
            "scope_reference": consent.scope_reference,
            "base_model": base_model,
            "evidence_sha256": _evidence_sha256(consent),
        },
    )
    return consent


# Withdrawals


def _ensure_may_withdraw_use(*, user: User, talent: Talent, at: datetime) -> None:
    """The principal, or an agent whose agency holds the power to negotiate uses."""
    if _is_principal(user=user, talent=talent, at=at):
        return
    if agent_has_power(user=user, talent=talent, power="negotiate", at=at):
        return
    raise PermissionDenied(
        "Only the talent, their guardian or estate, or an agent with the power to negotiate "
        "uses may withdraw from a licence or an agreement."
    )


def _agreement_terms(*, agreement: Agreement) -> AgreementVersion:
    version = (
        agreement.versions.filter(status=AgreementVersion.Status.ACTIVE).first()
        or agreement.versions.exclude(status=AgreementVersion.Status.AWAITING_SIGNATURES)
        .order_by("-number")
        .first()
    )
    if version is None:
        raise InvalidTransition("This agreement was never in force; there is nothing to withdraw.")
    return version


def _lock(target: Target) -> Target:
    # Two withdrawals of one target at once: the second waits here, then sees the first.
    return (
        type(target)
        .objects.select_for_update(of=("self",))
        .select_related("talent")
        .get(pk=target.pk)
    )


def _window(*, target: Target, kind: str, now: datetime) -> tuple[datetime, datetime]:
    """(effective_at, run_off_until) of a new withdrawal; checks the target's state."""
    if isinstance(target, CreationConsent):
        return now, now
    if isinstance(target, Licence):
        if target.status == Licence.Status.WITHDRAWN:
            raise AlreadyWithdrawn()
        if target.status != Licence.Status.ACCEPTED:
            raise InvalidTransition(
                f"A {target.status} licence cannot be withdrawn: only an accepted one can.",
                status=target.status,
            )
        version = target.agreement_version
    else:
        if target.status != Agreement.Status.ACTIVE:
            raise InvalidTransition(
                f"A {target.status} agreement cannot be withdrawn: only an active one can.",
                status=target.status,
            )
        version = _agreement_terms(agreement=target)
    effective_at = now
    if kind == Withdrawal.Kind.CONTRACTUAL:
        effective_at = now + timedelta(days=version.withdrawal_notice_days)
    return effective_at, effective_at + timedelta(days=version.run_off_days)


@transaction.atomic
def withdrawal_create(*, target: Target, kind: str, reason: str, actor: User) -> Withdrawal:
    """Withdraw from a licence, an agreement (every licence under it) or a creation consent."""
    if kind not in Withdrawal.Kind.values:
        raise ValidationFailed(
            fields={"kind": [f"Use one of {', '.join(Withdrawal.Kind.values)}."]}
        )
    if not reason.strip():
        raise ValidationFailed(fields={"reason": ["Say why."]})
    target = _lock(target)
    talent = target.talent
    now = timezone.now()
    if isinstance(target, CreationConsent):
        _ensure_consent_principal(user=actor, talent=talent, at=now)
    else:
        _ensure_may_withdraw_use(user=actor, talent=talent, at=now)
    existing = withdrawal_window_for(target=target)
    if existing is not None and existing.effective_at <= now:
        raise AlreadyWithdrawn(effective_at=existing.effective_at.isoformat())
    effective_at, run_off_until = _window(target=target, kind=kind, now=now)
    # Only a withdrawal that takes effect earlier (contractual upgraded to for cause or
    # data protection) may follow another: it changes something; a later one could not.
    if existing is not None and effective_at >= existing.effective_at:
        raise AlreadyWithdrawn(effective_at=existing.effective_at.isoformat())
    withdrawal = Withdrawal.objects.create(
        kind=kind,
        licence=target if isinstance(target, Licence) else None,
        agreement=target if isinstance(target, Agreement) else None,
        creation_consent=target if isinstance(target, CreationConsent) else None,
        talent=talent,
        reason=reason.strip(),
        requested_by=actor,
        requested_at=now,
        effective_at=effective_at,
        run_off_until=run_off_until,
        public_id=uuid.uuid4(),
    )
    audit_record(
        actor=actor,
        action="withdrawal.created",
        target=withdrawal,
        payload={
            "kind": kind,
            "target": _target_reference(target),
            "talent": str(talent.public_id),
            "requested_role": actor.role,
            "effective_at": effective_at.isoformat(),
            "run_off_until": run_off_until.isoformat(),
            "replaces_effective_at": existing.effective_at.isoformat() if existing else None,
        },
    )
    if effective_at <= now:
        withdrawal_apply(withdrawal=withdrawal, now=now)
    else:
        _notify_brand_legal(withdrawal=withdrawal, stage="requested")
    return withdrawal


def _target_reference(target: Target) -> str:
    name = {Licence: "licence", Agreement: "agreement", CreationConsent: "creation_consent"}
    return f"{name[type(target)]}:{target.public_id}"


# Applying withdrawals


def _licences_covered(withdrawal: Withdrawal) -> list[int]:
    if withdrawal.licence_id is not None:
        return [withdrawal.licence_id]
    if withdrawal.agreement_id is not None:
        return list(
            Licence.objects.filter(agreement_id=withdrawal.agreement_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    return []


def _licences_withdraw(*, withdrawal: Withdrawal, licence_ids: list[int], now: datetime) -> list:
    """Set every live covered licence to withdrawn (a conditional UPDATE); audit each."""
    live = list(
        Licence.objects.select_for_update()
        .filter(pk__in=licence_ids, status__in=LIVE_LICENCE_STATES)
        .only("pk", "public_id", "status")
        .order_by("pk")
    )
    Licence.objects.filter(
        pk__in=[licence.pk for licence in live], status__in=LIVE_LICENCE_STATES
    ).update(status=Licence.Status.WITHDRAWN, updated_at=now)
    for licence in live:
        audit_record(
            actor=None,
            action="licence.withdrawn",
            target=licence,
            payload={"from": licence.status, "withdrawal": str(withdrawal.public_id)},
        )
    return [str(licence.public_id) for licence in live]


def _likenesses_revoke(*, withdrawal: Withdrawal, consent: CreationConsent, now: datetime) -> list:
    """Retire every likeness of the talent trained on the consent's base model.

    Crypto-shredding the adapters arrives with capture; its hook is on_withdrawal_effective.
    """
    retired = list(
        LikenessVersion.objects.select_for_update()
        .filter(talent_id=consent.talent_id, base_model=consent.base_model)
        .exclude(status__in=RETIRED_LIKENESS_STATES)
        .only("pk", "public_id", "status")
        .order_by("pk")
    )
    LikenessVersion.objects.filter(pk__in=[likeness.pk for likeness in retired]).exclude(
        status__in=RETIRED_LIKENESS_STATES
    ).update(status=LikenessVersion.Status.REVOKED, updated_at=now)
    for likeness in retired:
        audit_record(
            actor=None,
            action="likeness.revoked",
            target=likeness,
            payload={"from": likeness.status, "withdrawal": str(withdrawal.public_id)},
        )
    return [str(likeness.public_id) for likeness in retired]


def _effect(withdrawal: Withdrawal, licence_ids: list[int]) -> WithdrawalEffect:
    consent = withdrawal.creation_consent
    return WithdrawalEffect(
        withdrawal_id=withdrawal.pk,
        withdrawal_public_id=withdrawal.public_id,
        kind=withdrawal.kind,
        talent_id=withdrawal.talent_id,
        effective_at=withdrawal.effective_at,
        run_off_until=withdrawal.run_off_until,
        licence_ids=tuple(licence_ids),
        agreement_id=withdrawal.agreement_id,
        creation_consent_id=withdrawal.creation_consent_id,
        consent_kind=consent.kind if consent else "",
        base_model=consent.base_model if consent else "",
    )


@transaction.atomic
def withdrawal_apply(*, withdrawal: Withdrawal, now: datetime | None = None) -> bool:
    """Give effect to one withdrawal whose time has come, exactly once.

    True when this call applied it; False when it is not due, is being applied by another
    transaction right now, or was applied already.
    """
    now = now or timezone.now()
    # SKIP LOCKED: a concurrent run that holds the row is applying it; do not queue behind
    # it. The unique WithdrawalApplied row is the guarantee; the lock only saves the work.
    withdrawal = (
        Withdrawal.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("creation_consent")
        .filter(pk=withdrawal.pk, effective_at__lte=now)
        .first()
    )
    if withdrawal is None or WithdrawalApplied.objects.filter(withdrawal=withdrawal).exists():
        return False
    try:
        with transaction.atomic():
            WithdrawalApplied.objects.create(withdrawal=withdrawal, applied_at=now)
    except IntegrityError:
        return False
    # Its events are appended last: the hooks void reservations, and every path that
    # holds a budget's rows takes the audit chain after them, never before.
    with audit_deferred():
        return _withdrawal_give_effect(withdrawal, now)


def _withdrawal_give_effect(withdrawal: Withdrawal, now: datetime) -> bool:
    licence_ids = _licences_covered(withdrawal)
    licences = _licences_withdraw(withdrawal=withdrawal, licence_ids=licence_ids, now=now)
    likenesses: list = []
    consent = withdrawal.creation_consent
    if consent is not None and consent.kind == ConsentKind.TRAIN:
        likenesses = _likenesses_revoke(withdrawal=withdrawal, consent=consent, now=now)
    effect = _effect(withdrawal, licence_ids)
    for callback in withdrawal_effective_callbacks():
        callback(effect)
    _notify_brand_legal(withdrawal=withdrawal, stage="effective")
    audit_record(
        actor=None,
        action="withdrawal.applied",
        target=withdrawal,
        payload={"applied_at": now.isoformat(), "licences": licences, "likenesses": likenesses},
    )
    return True


def withdrawals_apply_due(*, now: datetime | None = None) -> list[Withdrawal]:
    """Apply every withdrawal whose effective time has passed and that is not yet applied,
    each in its own transaction, so that one failure does not hold back the others."""
    now = now or timezone.now()
    due = Withdrawal.objects.filter(effective_at__lte=now, withdrawalapplied__isnull=True).order_by(
        "effective_at", "pk"
    )
    applied = []
    for withdrawal in due:
        try:
            if withdrawal_apply(withdrawal=withdrawal, now=now):
                applied.append(withdrawal)
        except Exception:
            # Retried on the next run (every minute); the other withdrawals go ahead.
            logger.exception("withdrawal %s could not be applied", withdrawal.public_id)
    return applied


# Notices to the brand


def _notify_brand_legal(*, withdrawal: Withdrawal, stage: str) -> None:
    """Tell the brand's legal users of a withdrawal from its licence or agreement."""
    if withdrawal.licence_id is not None:
        holder = withdrawal.licence
        label = f"the licence for {holder.campaign}"
    elif withdrawal.agreement_id is not None:
        holder = withdrawal.agreement
        label = f"the agreement {holder.title}"
    else:
        return  # a creation consent involves no brand
    talent = withdrawal.talent
    when = withdrawal.effective_at.strftime("%Y-%m-%d %H:%M UTC")
    run_off = withdrawal.run_off_until.strftime("%Y-%m-%d %H:%M UTC")
    if stage == "requested":
        subject = f"{talent} withdraws from {label} from {when}"
    else:
        subject = f"{talent}'s withdrawal from {label} is now in effect"
    body = (
        f"{subject}.\n\nKind: {withdrawal.get_kind_display()}.\n"
        f"From {when} nothing new may be rendered or released under it. Assets released "
        f"before then may stay in market until {run_off}, then must be taken down.\n"
    )
    legal = User.objects.filter(
        organization_id=holder.brand_id, role=Role.LEGAL, is_active=True
    ).order_by("pk")
    for user in legal:
        notify(
            user=user,
            kind=f"withdrawal.{stage}",
            subject=subject,
            body=body,
            target_reference=f"withdrawal:{withdrawal.public_id}",
            dedupe_key=f"withdrawal:{withdrawal.public_id}:{stage}",
        )
