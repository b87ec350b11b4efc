"""What happens to drafts once rendered: selection, the talent's output approval, release,
first publication, and the ends a draft may meet (rejected, expired, withdrawn).

- The campaign manager selects drafts; each asks the talent's side for approval, due
  within the agreement's approval window. The principal, or an agent whose representation
  holds the ``approve_outputs`` power, approves or rejects a selection in one batch, with
  reasons; silence past the window counts as approval (``deemed_approved``) and the audit
  event says so.
- Release asks the gate again (``release``) at one instant, which is also the asset's
  ``released_at``: a withdrawal effective by then denies it, so nothing is released at or
  after a withdrawal's effective time. Release counts the asset against its usage row,
  posts the reserved usage fee and makes the signed image downloadable for the brand.
- A withdrawal's effect (consent.hooks) cancels the requests it covers that have not
  rendered and withdraws every asset not yet released; released assets stay in market
  until the run-off ends (verification reports "permission ending", then "ended").
- Drafts not released by their request's ``drafts_expire_at`` expire; their reservations
  are voided (the ledger voids a lapsed reservation as of its deadline in any case).

Every change goes through ``asset_transition`` (the state table) and is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rightsdesk.accounts.models import Role, User
from rightsdesk.audit.services import audit_record
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import ALLOW, RELEASE, GateQuery
from rightsdesk.consent.hooks import WithdrawalEffect
from rightsdesk.core.errors import (
    GateDenied,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.core.notifications import notify
from rightsdesk.licensing.services import licence_record_first_publication, licence_use_quantity
from rightsdesk.provenance.services import provenance_record_approval
from rightsdesk.renders.errors import QuantityExhausted
from rightsdesk.renders.fees import asset_fee_post, asset_fee_void
from rightsdesk.renders.models import Asset, RenderRequest, RenderRequestLicence
from rightsdesk.renders.selectors import asset_link
from rightsdesk.renders.services import (
    asset_transition,
    render_request_approvals,
    render_request_end,
    render_request_gate_query,
)
from rightsdesk.renders.states import ASSET_TERMINAL, REQUEST_TERMINAL, AssetStatus, RequestStatus
from rightsdesk.talent.selectors import agent_has_power, talent_deciders, talent_principal_users

A = AssetStatus
REASON_WITHDRAWAL = "withdrawal"
REASON_EXPIRED = "drafts_expired"
REASON_DEEMED = "approval_window_elapsed"
UNRELEASED = (A.DRAFT, A.SELECTED, A.AWAITING_OUTPUT_APPROVAL, A.APPROVED, A.DEEMED_APPROVED)


def _locked(assets: Sequence[Asset]) -> list[Asset]:
    ids = sorted(asset.pk for asset in assets)  # one lock order for every batch: no deadlock
    return list(Asset.objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def _ensure_brand_manager(*, actor: User, render_request: RenderRequest) -> None:
    if not (
        actor.is_active
        and actor.role == Role.CAMPAIGN_MANAGER
        and actor.organization_id == render_request.organization_id
    ):
        raise PermissionDenied("Only a campaign manager of the brand may do this.")


def may_decide_outputs(*, user: User, talent) -> bool:
    """The principal (talent, guardian or estate) or an agent with ``approve_outputs``."""
    if any(p.pk == user.pk for p in talent_principal_users(talent=talent)):
        return True
    return agent_has_power(user=user, talent=talent, power="approve_outputs")


def _output_approvers(talent) -> list[User]:
    return talent_deciders(talent=talent, power="approve_outputs")


def _one_request(assets: Sequence[Asset]) -> RenderRequest:
    requests = {asset.render_request_id for asset in assets}
    if len(requests) != 1:
        raise ValidationFailed(fields={"assets": ["Give drafts of one render request at a time."]})
    return assets[0].render_request


def _ensure_status(assets: Sequence[Asset], allowed: tuple[str, ...], to: str) -> None:
    for asset in assets:
        if asset.status not in allowed:
            raise InvalidTransition(
                f"Asset {asset.public_id} is {asset.status}.",
                **{"from": asset.status, "to": to, "asset": str(asset.public_id)},
            )


# --- selection and output approval ---------------------------------------------------------


@transaction.atomic
def assets_select(*, assets: Sequence[Asset], actor: User) -> list[Asset]:
    """The campaign manager picks drafts; each asks the talent's side for approval within
    the agreement's window. One notice per batch to the principal and approving agents."""
    if not assets:
        raise ValidationFailed(fields={"assets": ["Select at least one draft."]})
    locked = _locked(assets)
    render_request = _one_request(locked)
    _ensure_brand_manager(actor=actor, render_request=render_request)
    _ensure_status(locked, (A.DRAFT,), A.SELECTED)
    link = asset_link(locked[0])
    now = timezone.now()
    due = now + timedelta(hours=link.licence.agreement_version.approval_window_hours)
    for asset in locked:
        asset_transition(asset=asset, to=A.SELECTED, actor=actor)
        asset_transition(asset=asset, to=A.AWAITING_OUTPUT_APPROVAL, actor=actor)
        Asset.objects.filter(pk=asset.pk).update(approval_due_at=due)
        asset.approval_due_at = due
    for user in _output_approvers(link.talent):
        notify(
            user=user,
            kind="output_approval_requested",
            subject=(
                f"{render_request.organization.name} asks you to approve {len(locked)} image(s)"
            ),
            body=(
                f"{render_request.organization.name} selected {len(locked)} image(s) of your "
                f"digital twin for {link.licence.campaign}. Approve or reject them by "
                f"{due:%Y-%m-%d %H:%M} UTC; after that, silence counts as approval."
            ),
            target_reference=f"render_request:{render_request.public_id}",
            dedupe_key=f"output-approval:{locked[0].public_id}",
        )
    return locked


def _decide(
    *, assets: Sequence[Asset], actor: User, to: str, reason: str, note: str
) -> list[Asset]:
    if not assets:
        raise ValidationFailed(fields={"assets": ["Name at least one asset."]})
    locked = _locked(assets)
    render_request = _one_request(locked)
    link = asset_link(locked[0])
    if not may_decide_outputs(user=actor, talent=link.talent):
        raise PermissionDenied(
            "Only the talent, a guardian, the estate or an agent with the power to approve "
            "outputs may decide on them."
        )
    _ensure_status(locked, (A.AWAITING_OUTPUT_APPROVAL,), to)
    now = timezone.now()
    for asset in locked:
        asset_transition(asset=asset, to=to, actor=actor, reason=reason)
        Asset.objects.filter(pk=asset.pk).update(decided_by=actor, decided_at=now)
        asset.decided_by, asset.decided_at = actor, now
        if to == A.REJECTED:
            asset_fee_void(asset_reference=asset.reference, reason=reason, actor=actor)
        else:
            provenance_record_approval(asset_reference=asset.reference)
    audit_record(
        actor=actor,
        action=f"assets.{to}",
        target=render_request,
        payload={"assets": [a.reference for a in locked], "reason": reason, "note": note},
    )
    verb = "approved" if to == A.APPROVED else "rejected"
    notify(
        user=render_request.requester,
        kind=f"output_{verb}",
        subject=f"{len(locked)} image(s) {verb} by the talent's side",
        body=f"{actor.full_name} {verb} {len(locked)} image(s)" + (f": {note}" if note else "."),
        target_reference=f"render_request:{render_request.public_id}",
    )
    return locked


@transaction.atomic
def assets_approve(*, assets: Sequence[Asset], actor: User, note: str = "") -> list[Asset]:
    """The talent's side approves selected images, in one batch."""
    return _decide(assets=assets, actor=actor, to=A.APPROVED, reason="", note=note[:500])


@transaction.atomic
def assets_reject(*, assets: Sequence[Asset], actor: User, reason: str) -> list[Asset]:
    """The talent's side rejects selected images, saying why; their fees are released."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(fields={"reason": ["Say why the images are rejected."]})
    return _decide(assets=assets, actor=actor, to=A.REJECTED, reason=reason[:64], note=reason)


def assets_deem_approved(*, now: datetime | None = None) -> int:
    """Selected images whose approval window ran out in silence count as approved."""
    now = now or timezone.now()
    due = Asset.objects.filter(status=A.AWAITING_OUTPUT_APPROVAL, approval_due_at__lte=now)
    count = 0
    for asset in due.order_by("pk"):
        with transaction.atomic():
            [locked] = _locked([asset]) or [None]
            if locked is None or locked.status != A.AWAITING_OUTPUT_APPROVAL:
                continue
            asset_transition(asset=locked, to=A.DEEMED_APPROVED, actor=None, reason=REASON_DEEMED)
            notify(
                user=locked.render_request.requester,
                kind="output_deemed_approved",
                subject="An image was deemed approved",
                body=(
                    "The talent's side did not answer within the agreement's approval window, "
                    "so the image counts as approved. It may be released."
                ),
                target_reference=locked.reference,
            )
            count += 1
    return count


# --- release and publication --------------------------------------------------------------


def _release_query(asset: Asset, link: RenderRequestLicence, at: datetime) -> GateQuery:
    render_request = asset.render_request
    return render_request_gate_query(
        render_request,
        approvals=render_request_approvals(render_request),
        links=[link],
        action=RELEASE,
        at=at,
        subject_reference=asset.reference,
    )


def asset_release(*, asset: Asset, actor: User) -> Asset:
    """Release an approved image: the gate at this instant, the usage row, the fee, then
    ``released``. A gate denial is stored (outside the transaction) and raised."""
    _ensure_brand_manager(actor=actor, render_request=asset.render_request)
    link = asset_link(asset)
    at = timezone.now()
    decision = evaluate(_release_query(asset, link, at))
    if decision.outcome != ALLOW:
        raise GateDenied(reasons=decision.codes(), gate_decision=decision.decision_id)
    return _released(asset=asset, link=link, actor=actor, at=at, decision_id=decision.decision_id)


@transaction.atomic
def _released(
    *, asset: Asset, link: RenderRequestLicence, actor: User, at: datetime, decision_id
) -> Asset:
    [locked] = _locked([asset])
    _ensure_status([locked], (A.APPROVED, A.DEEMED_APPROVED), A.RELEASED)
    row = licence_use_quantity(
        licence=link.licence,
        medium=locked.render_request.medium,
        territory=locked.render_request.territory,
    )
    if row is None:
        raise QuantityExhausted()
    entry = asset_fee_post(asset=locked, actor=actor)
    asset_transition(asset=locked, to=A.RELEASED, actor=actor)
    # The gate's instant, not the commit's: what the withdrawal race is judged by.
    Asset.objects.filter(pk=locked.pk).update(released_at=at)
    locked.released_at = at
    audit_record(
        actor=actor,
        action="asset.release_recorded",
        target=locked,
        payload={
            "asset": locked.reference,
            "gate_decision": decision_id,
            "usage_row": row.pk,
            "ledger_entry": str(entry.public_id) if entry is not None else None,
        },
    )
    for user in _output_approvers(link.talent):
        notify(
            user=user,
            kind="asset_released",
            subject=f"{locked.render_request.organization.name} released an image of your twin",
            body=(
                f"An image of your digital twin was released for {link.licence.campaign} "
                f"({locked.render_request.medium}, {locked.render_request.territory})."
            ),
            target_reference=locked.reference,
        )
    return locked


@transaction.atomic
def asset_report_publication(*, asset: Asset, actor: User, published_at: datetime) -> Asset:
    """The brand reports when a released image was first published; the licence's usage
    durations run from its earliest first publication."""
    _ensure_brand_manager(actor=actor, render_request=asset.render_request)
    [locked] = _locked([asset])
    if locked.status != A.RELEASED:
        raise InvalidTransition(
            "Only a released image can be published.", **{"from": locked.status, "to": "published"}
        )
    if timezone.is_naive(published_at) or published_at < locked.released_at:
        raise ValidationFailed(
            fields={"published_at": ["A time with a zone, not before the release."]}
        )
    if published_at > timezone.now() + timedelta(minutes=5):
        raise ValidationFailed(fields={"published_at": ["Report a publication once it happened."]})
    if locked.first_published_at is None or published_at < locked.first_published_at:
        Asset.objects.filter(pk=locked.pk).update(first_published_at=published_at)
        locked.first_published_at = published_at
    licence_record_first_publication(licence=asset_link(locked).licence, at=published_at)
    audit_record(
        actor=actor,
        action="asset.first_published",
        target=locked,
        payload={"asset": locked.reference, "published_at": published_at.isoformat()},
    )
    return locked


# --- the ends of unreleased drafts ---------------------------------------------------------


def assets_expire(*, now: datetime | None = None) -> int:
    """Drafts not released by their deadline expire; their reservations are voided."""
    now = now or timezone.now()
    due = Asset.objects.filter(status__in=UNRELEASED, expires_at__lte=now)
    count = 0
    for asset in due.order_by("pk"):
        with transaction.atomic():
            [locked] = _locked([asset]) or [None]
            if locked is None or locked.status in ASSET_TERMINAL:
                continue
            asset_transition(asset=locked, to=A.EXPIRED, actor=None, reason=REASON_EXPIRED)
            asset_fee_void(asset_reference=locked.reference, reason=REASON_EXPIRED, actor=None)
            count += 1
    return count


def _covered_requests(effect: WithdrawalEffect):
    requests = RenderRequest.objects.filter(licence_links__talent_id=effect.talent_id)
    if effect.creation_consent_id is not None:
        # A training consent withdrawn: every use of a likeness trained under it stops.
        if effect.consent_kind != "train":
            return requests.none()
        return requests.filter(likeness__base_model=effect.base_model)
    licences = Q(licence_links__licence_id__in=effect.licence_ids)
    if effect.agreement_id is not None:
        licences |= Q(licence_links__licence__agreement_id=effect.agreement_id)
    return requests.filter(licences)


def renders_apply_withdrawal(effect: WithdrawalEffect) -> None:
    """A withdrawal took effect (consent.hooks): what it covers and has not rendered is
    cancelled (a running render stops at its next step), and every image not yet released
    is withdrawn, its fee released. Released images stay until the run-off ends."""
    requests = _covered_requests(effect).distinct()
    for render_request in requests.exclude(status__in=REQUEST_TERMINAL).order_by("pk"):
        locked = RenderRequest.objects.select_for_update().get(pk=render_request.pk)
        if locked.status in REQUEST_TERMINAL:
            continue
        render_request_end(
            render_request=locked,
            to=RequestStatus.CANCELLED,
            actor=None,
            reason=REASON_WITHDRAWAL,
            payload={"withdrawal": str(effect.withdrawal_public_id)},
        )
    assets = Asset.objects.filter(render_request__in=requests.values("pk"), status__in=UNRELEASED)
    for asset in _locked(list(assets)):
        asset_transition(asset=asset, to=A.WITHDRAWN, actor=None, reason=REASON_WITHDRAWAL)
        asset_fee_void(asset_reference=asset.reference, reason=REASON_WITHDRAWAL, actor=None)
