"""Reads the pages need that the apps' selectors do not offer as such. Each one is built
on those selectors, so a page sees exactly what the API shows the same user."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import F, QuerySet
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from rightsdesk.accounts.models import User
from rightsdesk.agreements.models import Agreement, AgreementVersion, Category, CategoryPolicy
from rightsdesk.agreements.selectors import (
    agreement_active_version,
    agreement_list_visible_to,
    user_is_brand_legal,
)
from rightsdesk.agreements.taxonomy import category_list
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import RENDER, Decision, GateQuery
from rightsdesk.consent.selectors import licence_natural_end, withdrawal_window_for
from rightsdesk.core.errors import PermissionDenied
from rightsdesk.core.models import Notification
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
    render_request_links,
    render_request_list_visible_to,
)
from rightsdesk.renders.states import AssetStatus, RequestStatus
from rightsdesk.talent.models import CaptureSession, Talent
from rightsdesk.talent.selectors import (
    capture_session_list_visible_to,
    may_read_earnings,
    talent_list_visible_to,
)


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


@dataclass(frozen=True)
class WithdrawalOutlook:
    """What withdrawing from an accepted licence means, by the terms of the agreement
    version it was granted under: from when each kind takes effect, how long images
    released before then may stay in market (never past the licence's own end), and a
    withdrawal already on record, if any."""

    notice_days: int
    run_off_days: int
    contractual_from: datetime  # were it asked now
    licence_end: datetime
    recorded_from: datetime | None
    recorded_run_off_until: datetime | None

    @property
    def in_effect(self) -> bool:
        return self.recorded_from is not None and self.recorded_from <= timezone.now()


def licence_withdrawal_outlook(*, licence: Licence) -> WithdrawalOutlook:
    """The licence's withdrawal terms and its governing withdrawal (its own or its
    agreement's), read as consent's selectors read them."""
    version = licence.agreement_version
    end = licence_natural_end(licence=licence)
    window = withdrawal_window_for(target=licence)
    return WithdrawalOutlook(
        notice_days=version.withdrawal_notice_days,
        run_off_days=version.run_off_days,
        contractual_from=timezone.now() + timedelta(days=version.withdrawal_notice_days),
        licence_end=end,
        recorded_from=window.effective_at if window else None,
        recorded_run_off_until=min(window.run_off_until, end) if window else None,
    )


def market_rows(*, user: User, talent: Talent) -> list[dict]:
    """``twin_in_market`` with the net earnings written as money, for those who may read
    them (an agent without ``view_earnings`` sees the images without their earnings)."""
    earnings = may_read_earnings(user=user, talent=talent)
    return [
        {
            **row,
            "earned_net": money_format(row["earned_net_minor"], row["currency"])
            if earnings
            else None,
        }
        for row in twin_in_market(talent=talent, earnings=earnings)
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


def statement_periods(*, user: User, talent: Talent, months: int = 6) -> list[str]:
    """The months whose statement ``user`` may download for ``talent``, newest first, by
    the statement endpoint's own rule; [] for someone it would answer 403."""
    if not may_read_earnings(user=user, talent=talent):
        return []
    return _last_periods(months)[::-1]


def _last_periods(months: int) -> list[str]:
    today = timezone.now()
    year, month = today.year, today.month
    periods = []
    for _month in range(months):
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


# --- an agreement's versions, read as plain words -------------------------------------------


@dataclass(frozen=True)
class TermChange:
    """One term that differs between two versions, in plain words for the page."""

    term: str
    old: str
    new: str


def _days(n: int) -> str:
    return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}


def _hours(n: int) -> str:
    return ngettext("%(n)d hour", "%(n)d hours", n) % {"n": n}


def _day(value: datetime) -> str:
    # The page writes every instant in UTC; a term that starts mid-day keeps its time.
    value = value.astimezone(UTC)
    if value.time() == datetime.min.time():
        return dateformat.format(value, "j M Y")
    return dateformat.format(value, "j M Y, H:i") + " UTC"


def _percent(bps: int) -> str:
    text = f"{Decimal(bps) / 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def _policy(value: str | None) -> str:
    return {
        CategoryPolicy.Policy.ALLOWED: _("allowed"),
        CategoryPolicy.Policy.WITH_APPROVAL: _("allowed with the talent's approval"),
        CategoryPolicy.Policy.NEVER: _("never"),
        None: _("not named (so it needs the talent's approval)"),
    }[value]


def territories_text(spec: dict, *, translated: bool = True) -> str:
    """``{"include": ["EU"], "exclude": ["FR"]}`` as "EU except FR" (``translated``
    False: the English word, which ``TerritorySpec.from_text`` reads back)."""
    text = ", ".join(spec.get("include") or [])
    if spec.get("exclude"):
        word = _("except") if translated else "except"
        text += f" {word} " + ", ".join(spec["exclude"])
    return text


# The scalar terms of a version, in the order a reader expects them, with how to write each.
_SCALAR_TERMS: tuple[tuple[str, Callable[[], str], Callable[[Any], str]], ...] = (
    ("effective_from", lambda: _("Starts"), _day),
    ("effective_to", lambda: _("Ends"), _day),
    ("jurisdiction", lambda: _("Governing law"), str),
    ("talent_had_counsel", lambda: _("Talent advised by counsel"), _yes_no),
    ("talent_had_union", lambda: _("Talent represented by a union"), _yes_no),
    ("max_licence_term_days", lambda: _("Longest licence"), _days),
    ("withdrawal_notice_days", lambda: _("Notice for a contractual withdrawal"), _days),
    ("run_off_days", lambda: _("Run-off after a withdrawal"), _days),
    ("client_agency_fee_bps", lambda: _("Client agency fee (on top, paid by the brand)"), _percent),
    (
        "approval_window_hours",
        lambda: _("Approval window (then silence counts as approval)"),
        _hours,
    ),
)


def _version_terms(version: AgreementVersion) -> dict[str, tuple[str, Any, Callable]]:
    """``key -> (plain label, raw value, how to write it)`` from the version's own rows
    (its columns, category policies and exclusivities), which are what the gate reads."""
    terms = {key: (label(), getattr(version, key), write) for key, label, write in _SCALAR_TERMS}
    for row in version.category_policies.all():
        label = _("Category: %(name)s") % {"name": _(row.category.name)}
        terms[f"policy:{row.category.slug}"] = (label, row.policy, _policy)
    for row in version.exclusivities.all():
        spec = {
            "include": sorted(row.territories.get("include") or []),
            "exclude": sorted(row.territories.get("exclude") or []),
        }
        key = f"exclusivity:{row.category.slug}:{spec['include']}:{spec['exclude']}"
        label = _("Exclusivity: %(category)s in %(territories)s") % {
            "category": _(row.category.name),
            "territories": territories_text(spec),
        }
        terms[key] = (label, (row.starts_at, row.ends_at), _period)
    return terms


def _period(value: tuple[datetime, datetime]) -> str:
    return f"{_day(value[0])} – {_day(value[1])}"


def agreement_terms_changes(
    *, old: AgreementVersion, new: AgreementVersion, with_document: bool
) -> list[TermChange]:
    """Which terms ``new`` changes against ``old``, old value -> new value in plain words.
    A term one side lacks reads as its default ("not named", "none"). ``with_document``
    adds a line when the signed document changed (not for a summary-only viewer)."""
    before, after = _version_terms(old), _version_terms(new)
    changes = []
    for key in sorted(before.keys() | after.keys(), key=lambda k: _reading_order(k, before, after)):
        label, _value, write = before.get(key) or after[key]
        old_value = before[key][1] if key in before else None
        new_value = after[key][1] if key in after else None
        if old_value == new_value:
            continue
        changes.append(
            TermChange(
                term=label, old=_absent(key, old_value, write), new=_absent(key, new_value, write)
            )
        )
    if with_document and old.document_sha256 != new.document_sha256:
        changes.append(
            TermChange(term=_("Signed document"), old=_("earlier text"), new=_("new text"))
        )
    return changes


def _reading_order(key: str, *terms: dict) -> tuple[int, str]:
    """The scalar terms in their fixed order, then category policies and exclusivities,
    each group by its label."""
    scalar = [name for name, _label, _write in _SCALAR_TERMS]
    if key in scalar:
        return scalar.index(key), ""
    label = next(t[key][0] for t in terms if key in t)
    return (100 if key.startswith("policy:") else 200), label


def _absent(key: str, value: Any, write: Callable) -> str:
    if value is not None:
        return write(value)
    return _policy(None) if key.startswith("policy:") else _("none")


def agreement_versions_with_changes(
    *, agreement: Agreement, with_document: bool
) -> list[tuple[AgreementVersion, list[TermChange] | None]]:
    """The versions newest first, each with what it changed against the one before it
    (None for version 1, which changes nothing)."""
    versions = list(
        agreement.versions.prefetch_related(
            "category_policies__category", "exclusivities__category"
        ).order_by("number")
    )
    paired = [
        (
            version,
            agreement_terms_changes(old=previous, new=version, with_document=with_document)
            if previous is not None
            else None,
        )
        for previous, version in zip([None, *versions], versions, strict=False)
    ]
    return paired[::-1]


def agreement_current_version(*, agreement: Agreement) -> AgreementVersion | None:
    """The version an amendment starts from: the active one, else the latest."""
    return (
        agreement_active_version(agreement=agreement)
        or agreement.versions.order_by("-number").first()
    )


def version_exclusivity_lines(*, version: AgreementVersion) -> list[str]:
    """The version's exclusivities as the amendment form writes them, one a line:
    "category; territories; from; to" (a bare date when the instant is midnight UTC)."""
    lines = []
    for row in version.exclusivities.select_related("category").order_by("starts_at", "pk"):
        lines.append(
            "; ".join(
                (
                    row.category.slug,
                    territories_text(row.territories, translated=False),
                    _instant_text(row.starts_at),
                    _instant_text(row.ends_at),
                )
            )
        )
    return lines


def _instant_text(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()


def version_policies(*, version: AgreementVersion) -> dict[str, str]:
    """``category slug -> policy`` as the version's rows hold them."""
    return dict(version.category_policies.values_list("category__slug", "policy"))


@dataclass(frozen=True)
class LicenceEvidenceRow:
    """A licence under an agreement, with its released images (each has its own pack)."""

    licence: Licence
    released: list[Asset]


def agreement_licence_rows(*, user: User, agreement: Agreement) -> list[LicenceEvidenceRow]:
    """The licences under ``agreement`` that ``user`` may see, newest first, each with the
    released assets ``user`` may see."""
    licences = list(licence_list_visible_to(user=user).filter(agreement=agreement))
    released = (
        asset_list_visible_to(user=user)
        .filter(
            status=AssetStatus.RELEASED,
            render_request__licence_links__licence__in=[licence.pk for licence in licences],
        )
        .annotate(under_licence_id=F("render_request__licence_links__licence_id"))
        .order_by("released_at", "pk")
    )
    by_licence: dict[int, list[Asset]] = {}
    for asset in released:
        by_licence.setdefault(asset.under_licence_id, []).append(asset)
    return [
        LicenceEvidenceRow(licence=licence, released=by_licence.get(licence.pk, []))
        for licence in licences
    ]


# --- capture sessions --------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureRow:
    """A capture session's metadata for its talent's side: never an image or its bytes."""

    session: CaptureSession
    capture_fee: str
    training_fee: str
    agreement: Agreement | None  # None when there is none, or the viewer cannot open it


def capture_session_rows(*, user: User) -> list[CaptureRow]:
    """The capture sessions ``user`` may see (``capture_session_list_visible_to``), latest
    first, with their fees as money and the agreement each was commissioned under."""
    sessions = list(capture_session_list_visible_to(user=user).select_related("agreement"))
    agreement_ids = {s.agreement_id for s in sessions if s.agreement_id is not None}
    visible = set(
        agreement_list_visible_to(user=user)
        .filter(pk__in=agreement_ids)
        .values_list("pk", flat=True)
    )
    return [
        CaptureRow(
            session=session,
            capture_fee=money_format(session.capture_fee_minor, session.fee_currency),
            training_fee=money_format(session.training_fee_minor, session.fee_currency),
            agreement=session.agreement if session.agreement_id in visible else None,
        )
        for session in sessions
    ]


# --- who is blocking a render request ---------------------------------------------------------


@dataclass(frozen=True)
class Blocker:
    """Who the request waits for, to do what, until when, and what happens then."""

    who: str
    what: str
    until: datetime | None
    then: str


def _talents_text(render_request: RenderRequest) -> str:
    return ", ".join(str(link.talent) for link in render_request_links(render_request))


def request_blockers(*, render_request: RenderRequest, assets: list[Asset]) -> list[Blocker]:
    """What the request waits for now: the talent's side for a held brief (no deadline)
    and for selected images (until each batch's deemed-approval deadline), and the brand
    for drafts not yet released before they expire."""
    blockers = []
    talents = _talents_text(render_request)
    if render_request.status == RequestStatus.AWAITING_BRIEF_APPROVAL:
        asked = [
            reason.get("message", "")
            for reason in (render_request.decision.reasons if render_request.decision else [])
            if reason.get("approval")
        ]
        what = _("Approve the brief")
        if asked:
            what += ": " + "; ".join(asked)
        blockers.append(
            Blocker(
                who=_("%(talents)s's side: the talent, or an agent who may negotiate uses")
                % {"talents": talents},
                what=what,
                until=None,
                then=_("No deadline: nothing is rendered until they decide."),
            )
        )
    blockers.extend(_output_blockers(assets=assets, talents=talents))
    waiting_on_brand = [
        a
        for a in assets
        if a.status in (AssetStatus.DRAFT, AssetStatus.APPROVED, AssetStatus.DEEMED_APPROVED)
    ]
    if waiting_on_brand and render_request.drafts_expire_at:
        blockers.append(
            Blocker(
                who=_("The brand's campaign manager"),
                what=ngettext(
                    "Select or release %(n)d image",
                    "Select or release %(n)d images",
                    len(waiting_on_brand),
                )
                % {"n": len(waiting_on_brand)},
                until=render_request.drafts_expire_at,
                then=_("Images not released by then expire, and their reserved fees are freed."),
            )
        )
    return blockers


def _output_blockers(*, assets: list[Asset], talents: str) -> list[Blocker]:
    """One line per deemed-approval deadline (a batch selected together shares one)."""
    by_due: dict[datetime | None, list[Asset]] = {}
    for asset in assets:
        if asset.status == AssetStatus.AWAITING_OUTPUT_APPROVAL:
            by_due.setdefault(asset.approval_due_at, []).append(asset)
    blockers = []
    for due, batch in sorted(by_due.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        drafts = ", ".join(str(asset.index + 1) for asset in batch)
        blockers.append(
            Blocker(
                who=_("%(talents)s's side: the talent, or an agent who may approve outputs")
                % {"talents": talents},
                what=ngettext(
                    "Approve or reject %(n)d selected image (draft %(drafts)s)",
                    "Approve or reject %(n)d selected images (drafts %(drafts)s)",
                    len(batch),
                )
                % {"n": len(batch), "drafts": drafts},
                until=due,
                then=_("Silence until then counts as approval (deemed approval)."),
            )
        )
    return blockers


def agreement_may_draft(*, user: User, agreement: Agreement) -> bool:
    """Whether ``user`` may amend ``agreement`` and propose licences under it: the brand's
    legal team (agreement_amend also lets staff amend; they work in the admin)."""
    return user_is_brand_legal(user=user, brand_id=agreement.brand_id)


def version_category_terms(*, version: AgreementVersion) -> list[tuple[str, str]]:
    """The version's category policies and exclusivities in plain words, reading order."""
    terms = _version_terms(version)
    keys = sorted(
        (key for key in terms if key.startswith(("policy:", "exclusivity:"))),
        key=lambda key: _reading_order(key, terms),
    )
    return [(terms[key][0], terms[key][2](terms[key][1])) for key in keys]


def licensable_categories() -> list[Category]:
    """The taxonomy less the global "never" categories and those inside them (nudity,
    minors): no agreement can allow them, so the proposal form does not offer them."""
    categories = category_list()
    by_id = {category.pk: category for category in categories}

    def never(category: Category | None) -> bool:
        while category is not None:
            if category.global_policy == Category.GlobalPolicy.NEVER:
                return True
            category = by_id.get(category.parent_id)
        return False

    return [category for category in categories if not never(category)]
