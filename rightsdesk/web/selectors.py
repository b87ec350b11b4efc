"""Reads the pages need that the apps' selectors do not offer as such. Each one is built
on those selectors, so a page sees exactly what the API shows the same user."""

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.db.models import QuerySet
from django.utils import timezone

from rightsdesk.accounts.models import User
from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.agreements.selectors import agreement_active_version, agreement_list_visible_to
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import RENDER, Decision, GateQuery
from rightsdesk.core.errors import PermissionDenied
from rightsdesk.core.models import Notification
from rightsdesk.ledger.apis import _may_read_earnings as may_read_earnings  # the API's rule
from rightsdesk.ledger.selectors import ledger_statement
from rightsdesk.ledger.types import owner_ref
from rightsdesk.licensing.memo import money_format
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.selectors import is_talent_side_viewer, licence_list_visible_to
from rightsdesk.renders.market import twin_in_market
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.selectors import (
    asset_list_visible_to,
    brand_licences,
    campaign_brand_of,
    render_request_list_visible_to,
)
from rightsdesk.renders.states import AssetStatus, RequestStatus
from rightsdesk.talent.models import Talent
from rightsdesk.talent.selectors import talent_list_visible_to


def talents_decided_for(*, user: User) -> list[Talent]:
    """The talents whose uses ``user`` answers for: their own, or the represented ones."""
    return [
        talent
        for talent in talent_list_visible_to(user=user)
        if is_talent_side_viewer(user=user, talent=talent)
    ]


def briefs_awaiting_approval(*, user: User) -> QuerySet[RenderRequest]:
    """Requests whose brief the gate held for the talent side's approval."""
    if campaign_brand_of(user) is not None:
        return RenderRequest.objects.none()
    return render_request_list_visible_to(user=user).filter(
        status=RequestStatus.AWAITING_BRIEF_APPROVAL
    )


def outputs_awaiting_approval(*, user: User) -> QuerySet[Asset]:
    """Selected images waiting for the talent side's decision, soonest deadline first."""
    if campaign_brand_of(user) is not None:
        return Asset.objects.none()
    return (
        asset_list_visible_to(user=user)
        .filter(status=AssetStatus.AWAITING_OUTPUT_APPROVAL)
        .order_by("approval_due_at", "pk")
    )


def licence_offers(*, user: User) -> QuerySet[Licence]:
    """Every licence ``user`` may see, open offers first."""
    return licence_list_visible_to(user=user).select_related("talent", "brand")


def licences_to_render_under(*, user: User) -> list[Licence]:
    """The campaign manager's brand's licences that were ever accepted: a withdrawn or
    ended one stays on the form, so that the gate, not a missing option, says why not."""
    brand = campaign_brand_of(user)
    if brand is None:
        return []
    return list(
        Licence.objects.filter(brand=brand, accepted_at__isnull=False)
        .select_related("talent")
        .order_by("campaign", "pk")
    )


@dataclass(frozen=True)
class DryRun:
    """What the gate would say now, and what the request would cost and leave."""

    decision: Decision
    licence: Licence
    usage_fee_minor: int
    drafts_remaining: int

    @property
    def fee(self) -> str:
        return money_format(self.usage_fee_minor, self.licence.currency)


def render_dry_run(
    *, user: User, licence_id: UUID, brief: str, territory: str, medium: str
) -> DryRun:
    """The gate's dry run for a draft brief, as POST /render-requests/dry-run/ computes it:
    the brand's own licence only (another brand's is not found), nothing stored."""
    brand = campaign_brand_of(user)
    if brand is None:
        raise PermissionDenied("Only a brand's campaign manager may ask for a render decision.")
    (licence,) = brand_licences(brand=brand, public_ids=[licence_id])
    decision = evaluate(
        GateQuery(
            action=RENDER,
            at=timezone.now(),
            licences=(licence.public_id,),
            brand=brand.pk,
            brief=brief,
            territory=territory or None,
            medium=medium or None,
            dry_run=True,
        )
    )
    return DryRun(
        decision=decision,
        licence=licence,
        usage_fee_minor=licence.usage_fee_minor,
        drafts_remaining=max(licence.draft_allowance - licence.drafts_used, 0),
    )


def market_rows(*, talent: Talent) -> list[dict]:
    """``twin_in_market`` with the net earnings written as money."""
    return [
        {**row, "earned_net": money_format(row["earned_net_minor"], row["currency"])}
        for row in twin_in_market(talent=talent)
    ]


def notices_for(*, user: User, limit: int = 50) -> QuerySet[Notification]:
    """The user's own in-app notices, newest first."""
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")[:limit]


@dataclass(frozen=True)
class MonthBar:
    period: str
    net_minor: int
    net: str
    height: int  # of the chart's 100 units

    @property
    def top(self) -> int:
        return 100 - self.height


def earnings_by_month(*, user: User, talent: Talent, months: int = 6) -> dict[str, list]:
    """Net earnings per UTC month, per currency, for the last ``months`` months, from the
    same statements the statement endpoint serves; {} for someone who may not read them."""
    if not may_read_earnings(user=user, talent=talent):
        return {}
    owner = owner_ref("talent", talent.public_id)
    nets: dict[str, dict[str, int]] = {}
    periods = _last_periods(months)
    for period in periods:
        for account in ledger_statement(owner=owner, period=period).statement.accounts:
            nets.setdefault(account.currency, {})[period] = account.totals["net_minor"]
    chart = {}
    for currency, by_period in nets.items():
        top = max([*by_period.values(), 1])
        chart[currency] = [
            MonthBar(
                period=period,
                net_minor=by_period.get(period, 0),
                net=money_format(by_period.get(period, 0), currency),
                height=round(100 * max(by_period.get(period, 0), 0) / top),
            )
            for period in periods
        ]
    return chart


def _last_periods(months: int) -> list[str]:
    today = timezone.now()
    year, month = today.year, today.month
    periods = []
    for _ in range(months):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return periods[::-1]


EXPIRING_SOON = timedelta(days=30)  # the first of the 30/7/1-day expiry reminders


@dataclass(frozen=True)
class AgreementRow:
    agreement: Agreement
    version: AgreementVersion | None
    expiring_soon: bool


def agreement_rows(*, user: User) -> list[AgreementRow]:
    """The agreements ``user`` sees, each with its active version and whether it ends
    within EXPIRING_SOON."""
    now = timezone.now()
    rows = []
    for agreement in agreement_list_visible_to(user=user).select_related("talent", "brand"):
        version = agreement_active_version(agreement=agreement)
        ends = version.effective_to if version else None
        soon = ends is not None and now <= ends <= now + EXPIRING_SOON
        rows.append(AgreementRow(agreement=agreement, version=version, expiring_soon=soon))
    return rows
