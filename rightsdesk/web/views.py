"""Server-rendered pages for the talent side, brand legal and the campaign manager.

Every page reads through the apps' selectors and writes through their services, exactly
as the API does: a foreign object is a 404 page, a refused action a message on the page it
came from. The pages work as plain forms; htmx (vendored under static/vendor/) only adds
the live dry run while a brief is typed and the progress that refreshes while rendering.
"""

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.agreements.selectors import (
    agreement_get_visible_to,
    agreement_version_get,
    agreement_viewer,
    signature_evidence_visible,
)
from rightsdesk.agreements.services import agreement_amend, agreement_sign, agreement_signatory
from rightsdesk.agreements.taxonomy import category_list
from rightsdesk.agreements.terms import AgreementTerms
from rightsdesk.audit.evidence import evidence_pack_download
from rightsdesk.audit.evidence_selectors import evidence_may_take, evidence_subject_get_visible_to
from rightsdesk.consent.screening import APPEARANCE_LIMIT_PHRASES
from rightsdesk.consent.selectors import (
    creation_consent_get_visible_to,
    creation_consent_list_visible_to,
)
from rightsdesk.consent.services import withdrawal_create
from rightsdesk.core.errors import ApplicationError, NotFound
from rightsdesk.licensing.memo import deal_memo_render, money_format
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.selectors import is_talent_side_viewer, licence_get_visible_to
from rightsdesk.licensing.services import (
    licence_accept,
    licence_counter,
    licence_decline,
    licence_propose,
    licence_terms,
)
from rightsdesk.licensing.terms import LicenceTerms, UsageTerms
from rightsdesk.renders.outputs import (
    asset_release,
    asset_report_publication,
    assets_approve,
    assets_reject,
    assets_select,
)
from rightsdesk.renders.selectors import (
    asset_get_visible_to,
    assets_get_visible_to,
    campaign_brand_of,
    render_request_get_visible_to,
    render_request_list_visible_to,
)
from rightsdesk.renders.services import (
    render_request_approve_brief,
    render_request_reject_brief,
    render_request_submit,
)
from rightsdesk.renders.states import AssetStatus, RequestStatus
from rightsdesk.talent.models import LikenessVersion
from rightsdesk.talent.training import (
    likeness_get_visible_to,
    likeness_list_visible_to,
    likeness_reject,
    likeness_samples_of,
    likeness_sign_off,
)
from rightsdesk.web import forms
from rightsdesk.web.explain import refusal_lines
from rightsdesk.web.selectors import (
    agreement_current_version,
    agreement_licence_rows,
    agreement_may_draft,
    agreement_rows,
    agreement_versions_with_changes,
    briefs_awaiting_approval,
    capture_session_rows,
    earnings_by_month,
    licence_offers,
    licence_withdrawal_outlook,
    licences_to_render_under,
    licensable_categories,
    market_rows,
    notices_for,
    outputs_awaiting_approval,
    render_dry_run,
    request_blockers,
    statement_periods,
    talents_decided_for,
    version_category_terms,
    version_exclusivity_lines,
    version_policies,
)

# While a request is in one of these, its page refreshes its progress (htmx polling).
LIVE_STATUSES = (
    RequestStatus.SUBMITTED,
    RequestStatus.APPROVED,
    RequestStatus.QUEUED,
    RequestStatus.RENDERING,
)
RELEASABLE = (AssetStatus.APPROVED, AssetStatus.DEEMED_APPROVED)


def _attempt(request: HttpRequest, action: Callable[[], object], success: str) -> bool:
    """Run one service call; a refusal becomes a message, a foreign object a 404 page."""
    try:
        action()
    except NotFound:
        raise Http404
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


def _form_errors(request: HttpRequest, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


def _get(getter, **kwargs):
    try:
        return getter(**kwargs)
    except NotFound:
        raise Http404


# --- the talent side ------------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Briefs held for approval and selected images, one batch form per request."""
    sheets: dict = {}
    for asset in outputs_awaiting_approval(user=request.user):
        sheets.setdefault(asset.render_request, []).append(asset)
    return render(
        request,
        "web/inbox.html",
        {
            "briefs": briefs_awaiting_approval(user=request.user),
            "sheets": list(sheets.items()),
        },
    )


@login_required
@require_POST
def brief_decide(request: HttpRequest, public_id) -> HttpResponse:
    render_request = _get(render_request_get_visible_to, user=request.user, public_id=public_id)
    if request.POST.get("decision") == "approve":
        _attempt(
            request,
            lambda: render_request_approve_brief(render_request=render_request, actor=request.user),
            _("Brief approved: the drafts are queued."),
        )
        return redirect("web:inbox")
    form = forms.ReasonForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("web:inbox")
    _attempt(
        request,
        lambda: render_request_reject_brief(
            render_request=render_request, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        _("Brief rejected."),
    )
    return redirect("web:inbox")


@login_required
@require_POST
def outputs_decide(request: HttpRequest) -> HttpResponse:
    """Approve or reject the ticked images of one request in one batch."""
    form = forms.AssetBatchForm(request.POST, asset_ids=request.POST.getlist("assets"))
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("web:inbox")
    data = form.cleaned_data
    assets = _get(assets_get_visible_to, user=request.user, public_ids=data["assets"])
    count = {"n": len(assets)}
    if data["decision"] == "approve":
        _attempt(
            request,
            lambda: assets_approve(assets=assets, actor=request.user, note=data["reason"]),
            _("%(n)d image(s) approved.") % count,
        )
    else:
        _attempt(
            request,
            lambda: assets_reject(assets=assets, actor=request.user, reason=data["reason"]),
            _("%(n)d image(s) rejected.") % count,
        )
    return redirect("web:inbox")


@login_required
def licence_list(request: HttpRequest) -> HttpResponse:
    licences = licence_offers(user=request.user).order_by("status", "-created_at")
    return render(request, "web/licence_list.html", {"licences": licences})


@login_required
def licence_detail(request: HttpRequest, public_id) -> HttpResponse:
    licence = _get(licence_get_visible_to, user=request.user, public_id=public_id)
    talent_side = is_talent_side_viewer(user=request.user, talent=licence.talent)
    memo = deal_memo_render(licence=licence) if talent_side else None
    return render(
        request,
        "web/licence_detail.html",
        {
            "licence": licence,
            "memo": memo,
            "talent_side": talent_side,
            "open": licence.status in (Licence.Status.PROPOSED, Licence.Status.COUNTERED),
            "acceptable": licence.status == Licence.Status.PROPOSED,
            "withdrawable": talent_side and licence.status == Licence.Status.ACCEPTED,
            "withdrawal": licence_withdrawal_outlook(licence=licence)
            if licence.accepted_at is not None
            else None,
            "usage_fee": money_format(licence.usage_fee_minor, licence.currency),
            "decline_form": forms.ReasonForm(),
            "counter_form": forms.CounterForm(initial=_counter_initial(licence)),
            "withdraw_form": forms.WithdrawalForm(),
        },
    )


@login_required
@require_POST
def licence_accept_view(request: HttpRequest, public_id) -> HttpResponse:
    licence = _get(licence_get_visible_to, user=request.user, public_id=public_id)
    _attempt(
        request,
        lambda: licence_accept(
            licence=licence,
            deal_memo_sha256=request.POST.get("deal_memo_sha256", ""),
            language=request.POST.get("language", ""),
            actor=request.user,
            authentication_method="session",
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ),
        _("Licence accepted. The brand may now request renders under it."),
    )
    return redirect("web:licence-detail", public_id=licence.public_id)


def _counter_initial(licence: Licence) -> dict:
    exponent = 10 ** forms.CURRENCY_EXPONENTS.get(licence.currency, 2)
    return {
        "usage_fee": licence.usage_fee_minor / exponent,
        "buyout": licence.buyout_minor / exponent,
        "draft_allowance": licence.draft_allowance,
    }


@login_required
@require_POST
def licence_counter_view(request: HttpRequest, public_id) -> HttpResponse:
    """Answer a proposal with another fee, buy-out or draft allowance."""
    licence = _get(licence_get_visible_to, user=request.user, public_id=public_id)
    form = forms.CounterForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("web:licence-detail", public_id=licence.public_id)
    data, currency = form.cleaned_data, licence.currency
    terms = dataclasses.replace(
        licence_terms(licence=licence),
        usage_fee_minor=form.minor(data["usage_fee"], currency),
        buyout_minor=form.minor(data["buyout"], currency),
        draft_allowance=data["draft_allowance"],
    )
    _attempt(
        request,
        lambda: licence_counter(
            licence=licence, terms=terms, note=data["note"], actor=request.user
        ),
        _("Counter-offer sent. The brand must revise the licence or decline."),
    )
    return redirect("web:licence-detail", public_id=licence.public_id)


@login_required
@require_POST
def licence_decline_view(request: HttpRequest, public_id) -> HttpResponse:
    licence = _get(licence_get_visible_to, user=request.user, public_id=public_id)
    note = request.POST.get("reason", "")
    _attempt(
        request,
        lambda: licence_decline(licence=licence, note=note, actor=request.user),
        _("Licence declined."),
    )
    return redirect("web:licence-detail", public_id=licence.public_id)


@login_required
@require_POST
def licence_withdraw_view(request: HttpRequest, public_id) -> HttpResponse:
    """Record a withdrawal; the message says from when it stops new renders and releases
    and until when images released before then may stay in market."""
    licence = _get(licence_get_visible_to, user=request.user, public_id=public_id)
    back = redirect("web:licence-detail", public_id=licence.public_id)
    form = forms.WithdrawalForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return back
    try:
        withdrawal = withdrawal_create(
            target=licence,
            kind=form.cleaned_data["kind"],
            reason=form.cleaned_data["reason"],
            actor=request.user,
        )
    except NotFound:
        raise Http404
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return back
    outlook = licence_withdrawal_outlook(licence=licence)
    messages.success(
        request,
        _(
            "Withdrawal recorded. From %(from)s nothing new is rendered or released under "
            "this licence; images released before then may stay in market until %(until)s."
        )
        % {
            "from": _moment(withdrawal.effective_at),
            "until": _moment(outlook.recorded_run_off_until or withdrawal.run_off_until),
        },
    )
    return back


def _moment(value: datetime) -> str:
    """An instant as the pages write it: in UTC, to the minute."""
    return dateformat.format(value.astimezone(UTC), "j M Y, H:i") + " UTC"


@login_required
def market(request: HttpRequest) -> HttpResponse:
    """The talent's twin in market: every released image, where, until when, what it
    earned, and the net earnings of the last months as a chart with each month's
    statement to download (for those the statement endpoint lets read them)."""
    talents = [
        (
            talent,
            market_rows(user=request.user, talent=talent),
            earnings_by_month(user=request.user, talent=talent),
            statement_periods(user=request.user, talent=talent),
        )
        for talent in talents_decided_for(user=request.user)
    ]
    return render(request, "web/market.html", {"talents": talents})


PRINCIPAL_ROLES = ("talent", "guardian", "estate")


@login_required
def consents(request: HttpRequest) -> HttpResponse:
    """Creation consents (capture, training), each with a withdraw action for the principal:
    only the talent (or guardian, estate) gives or withdraws them, never an agent."""
    return render(
        request,
        "web/consents.html",
        {
            "consents": creation_consent_list_visible_to(user=request.user),
            "principal": request.user.role in PRINCIPAL_ROLES,
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def consent_withdraw(request: HttpRequest, public_id) -> HttpResponse:
    consent = _get(creation_consent_get_visible_to, user=request.user, public_id=public_id)
    form = forms.ReasonForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        _attempt(
            request,
            lambda: withdrawal_create(
                target=consent,
                kind="data_protection",
                reason=form.cleaned_data["reason"],
                actor=request.user,
            ),
            _("Consent withdrawn, with effect now."),
        )
    return redirect("web:consents")


@login_required
def twin(request: HttpRequest) -> HttpResponse:
    """The twin's versions; one awaiting sign-off shows its samples to sign off or reject."""
    likenesses = [
        (likeness, likeness_samples_of(likeness=likeness))
        for likeness in likeness_list_visible_to(user=request.user)
    ]
    return render(
        request,
        "web/twin.html",
        {
            "likenesses": likenesses,
            "principal": request.user.role in PRINCIPAL_ROLES,
            "awaiting": LikenessVersion.Status.AWAITING_SIGNOFF,
            "limits": sorted(APPEARANCE_LIMIT_PHRASES),
        },
    )


@login_required
@require_POST
def twin_decide(request: HttpRequest, public_id) -> HttpResponse:
    likeness = _get(likeness_get_visible_to, user=request.user, public_id=public_id)
    if request.POST.get("decision") == "sign_off":
        limits = request.POST.getlist("appearance_limits")
        _attempt(
            request,
            lambda: likeness_sign_off(
                likeness=likeness, actor=request.user, appearance_limits=limits
            ),
            _("Twin signed off: brands may now render it under accepted licences."),
        )
    else:
        reason = request.POST.get("reason", "")
        _attempt(
            request,
            lambda: likeness_reject(likeness=likeness, actor=request.user, reason=reason),
            _("Twin rejected."),
        )
    return redirect("web:twin")


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    return render(request, "web/notices.html", {"notices": notices_for(user=request.user)})


# --- legal -----------------------------------------------------------------------------------


@login_required
def agreement_list(request: HttpRequest) -> HttpResponse:
    return render(request, "web/agreement_list.html", {"rows": agreement_rows(user=request.user)})


# Who signs, in the words the page uses for a missing signature.
PARTY_WORDS = {
    "principal": _lazy(
        "the talent's side (the talent, a guardian, the estate or an agent with signing power)"
    ),
    "brand_legal": _lazy("the brand's legal team"),
}


def _signing_party(user, agreement) -> str | None:
    """The party ``user`` signs ``agreement`` as, or None, as the API's ``may_sign_as``."""
    try:
        party, _role = agreement_signatory(agreement=agreement, user=user)
    except ApplicationError:
        return None
    return party


def _version_rows(request: HttpRequest, agreement, viewer) -> list[dict]:
    party = _signing_party(request.user, agreement)
    rows = []
    for version, changes in agreement_versions_with_changes(
        agreement=agreement, with_document=not viewer.summary_only
    ):
        signatures = [
            (signature, signature_evidence_visible(user=request.user, signature=signature))
            for signature in version.signatures.select_related("signer").order_by("signed_at")
        ]
        signed = {signature.party for signature, _evidence in signatures}
        awaiting = version.status == AgreementVersion.Status.AWAITING_SIGNATURES
        rows.append(
            {
                "version": version,
                "changes": changes,
                "category_terms": version_category_terms(version=version),
                "signatures": [] if viewer.summary_only else signatures,
                "missing": [PARTY_WORDS[p] for p in ("brand_legal", "principal") if p not in signed]
                if awaiting and not viewer.summary_only
                else [],
                "may_sign": awaiting and party is not None and party not in signed,
            }
        )
    return rows


@login_required
def agreement_detail(request: HttpRequest, public_id) -> HttpResponse:
    """Versions newest first, each with what it changed against the one before, and its
    signatures; signature evidence (IP, user agent) only for its signer and staff, and
    nothing of either for a campaign manager, as in the API. Below, the licences under the
    agreement with their evidence packs."""
    agreement = _get(agreement_get_visible_to, user=request.user, public_id=public_id)
    viewer = agreement_viewer(user=request.user, agreement=agreement)
    drafts = agreement_may_draft(user=request.user, agreement=agreement)
    context = {
        "agreement": agreement,
        "versions": _version_rows(request, agreement, viewer),
        "viewer": viewer,
        "may_amend": drafts and agreement.status != Agreement.Status.TERMINATED,
        "may_propose": drafts and agreement.status == Agreement.Status.ACTIVE,
        "licences": agreement_licence_rows(user=request.user, agreement=agreement),
        "evidence": evidence_may_take(user=request.user),
    }
    return render(request, "web/agreement_detail.html", context)


def _explain(request: HttpRequest, exc: ApplicationError, **kwargs) -> list[str]:
    """A service's refusal as plain-word messages on the page; the lines, for a form."""
    lines = refusal_lines(exc, **kwargs)
    for line in lines:
        messages.error(request, line)
    return lines


@login_required
@require_POST
def agreement_sign_view(request: HttpRequest, public_id, number: int) -> HttpResponse:
    """Sign one version with the hash the page showed; IP, user agent and the session
    are kept as evidence, as the API keeps them."""
    agreement = _get(agreement_get_visible_to, user=request.user, public_id=public_id)
    version = _get(agreement_version_get, agreement=agreement, number=number)
    form = forms.SignForm(request.POST)
    back = redirect("web:agreement-detail", public_id=agreement.public_id)
    if not form.is_valid():
        _form_errors(request, form)
        return back
    try:
        agreement_sign(
            version=version,
            actor=request.user,
            signed_sha256=form.cleaned_data["signed_sha256"],
            authentication_method="session",
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except NotFound:
        raise Http404
    except ApplicationError as exc:
        _explain(request, exc)
        return back
    version.refresh_from_db()
    if version.status == AgreementVersion.Status.ACTIVE:
        messages.success(
            request,
            _("Version %(n)d signed by every party: it is now in force.") % {"n": version.number},
        )
    else:
        messages.success(
            request,
            _("Version %(n)d signed. It comes into force once the other party signs it.")
            % {"n": version.number},
        )
    return back


def _drafting(request: HttpRequest, public_id):
    agreement = _get(agreement_get_visible_to, user=request.user, public_id=public_id)
    if not agreement_may_draft(user=request.user, agreement=agreement):
        raise PermissionDenied
    return agreement


def _amend_initial(version) -> dict:
    initial = {
        name: getattr(version, name)
        for name in (
            "jurisdiction",
            "max_licence_term_days",
            "withdrawal_notice_days",
            "run_off_days",
            "client_agency_fee_bps",
            "approval_window_hours",
            "talent_had_counsel",
            "talent_had_union",
        )
    }
    initial["effective_from"] = version.effective_from.astimezone(UTC).date()
    initial["effective_to"] = version.effective_to.astimezone(UTC).date()
    initial["exclusivities"] = "\n".join(version_exclusivity_lines(version=version))
    for slug, policy in version_policies(version=version).items():
        initial[f"policy_{slug}"] = policy
    return initial


@login_required
def agreement_amend_view(request: HttpRequest, public_id) -> HttpResponse:
    """Draft version n+1 from the current one with changed terms (brand legal). The
    current version stays in force until every party has signed the new one."""
    agreement = _drafting(request, public_id)
    current = agreement_current_version(agreement=agreement)
    if current is None:
        raise Http404
    categories = category_list()
    if request.method != "POST":
        form = forms.AgreementAmendForm(initial=_amend_initial(current), categories=categories)
        return _amend_page(request, agreement, current, form, [])
    form = forms.AgreementAmendForm(request.POST, request.FILES, categories=categories)
    if not form.is_valid():
        messages.error(request, _("Some fields need correcting: see below."))
        return _amend_page(request, agreement, current, form, [])
    keep = {"effective_from": current.effective_from, "effective_to": current.effective_to}
    try:
        version = agreement_amend(
            agreement=agreement,
            document=form.cleaned_data["document"],
            terms=AgreementTerms.from_json(form.terms_json(keep=keep)),
            actor=request.user,
        )
    except NotFound:
        raise Http404
    except ApplicationError as exc:
        labels = {name: field.label for name, field in form.fields.items()}
        lines = _explain(request, exc, labels=labels)
        return _amend_page(request, agreement, current, form, lines)
    messages.success(
        request,
        _(
            "Version %(n)d drafted. Every party signs it; until then version %(current)d "
            "stays in force."
        )
        % {"n": version.number, "current": current.number},
    )
    return redirect("web:agreement-detail", public_id=agreement.public_id)


def _amend_page(request, agreement, current, form, refusal: list[str]) -> HttpResponse:
    context = {"agreement": agreement, "current": current, "form": form, "refusal": refusal}
    return render(request, "web/agreement_amend.html", context)


def _first_moment(day: date) -> datetime:
    """A licence's first day as an instant: now if it is today, else its start (UTC)."""
    now = timezone.now()
    return now if day == now.date() else datetime.combine(day, time(0), tzinfo=UTC)


def _after(day: date | None) -> datetime | None:
    """The end of a last day: the start of the next one (UTC)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) if day else None


def _proposal_terms(form: forms.LicenceProposalForm, usage) -> LicenceTerms:
    data = form.cleaned_data
    currency = data["currency"]
    lines = [line.strip() for line in data["product_lines"].split(",") if line.strip()]
    return LicenceTerms(
        campaign=data["campaign"],
        use_description=data["use_description"],
        purpose=data["purpose"],
        advertiser=data["advertiser"],
        product_lines=tuple(lines),
        category=data["category"],
        usage=tuple(
            UsageTerms(
                medium=row["medium"],
                territories=row["territories"],
                duration_days=row["duration_days"],
                quantity=row["quantity"],
            )
            for row in (f.cleaned_data for f in usage.forms)
            if row
        ),
        currency=currency,
        buyout_minor=form.minor(data["buyout"], currency),
        usage_fee_minor=form.minor(data["usage_fee"], currency),
        draft_allowance=data["draft_allowance"],
        brief_approval_required=data["brief_approval_required"],
        starts_at=_first_moment(data["starts_on"]),
        ends_at=_after(data["ends_on"]),
        offer_expires_at=_after(data.get("offer_expires_on")),
    )


@login_required
def licence_propose_view(request: HttpRequest, public_id) -> HttpResponse:
    """Brand legal proposes a licence under an active agreement. A refusal is explained
    on the form from the error's code and fields only (refusal_lines), so it never names
    another brand."""
    agreement = _drafting(request, public_id)
    categories = licensable_categories()
    data = request.POST if request.method == "POST" else None
    today = timezone.now().date()
    form = forms.LicenceProposalForm(
        data,
        categories=categories,
        initial={"advertiser": agreement.brand.name, "starts_on": today},
    )
    usage = forms.UsageFormSet(data, prefix="usage")
    if data is None:
        return _propose_page(request, agreement, form, usage, [])
    if not (form.is_valid() and usage.is_valid()):
        messages.error(request, _("Some fields need correcting: see below."))
        return _propose_page(request, agreement, form, usage, [])
    try:
        licence = licence_propose(
            agreement=agreement, terms=_proposal_terms(form, usage), actor=request.user
        )
    except NotFound:
        raise Http404
    except ApplicationError as exc:
        names = dict(form.fields["category"].choices)
        lines = _explain(
            request,
            exc,
            labels=forms.PROPOSAL_LABELS,
            category=str(names.get(form.cleaned_data["category"], "")),
        )
        return _propose_page(request, agreement, form, usage, lines)
    messages.success(
        request, _("Licence proposed. The talent's side reads its deal memo and answers.")
    )
    return redirect("web:licence-detail", public_id=licence.public_id)


def _propose_page(request, agreement, form, usage, refusal: list[str]) -> HttpResponse:
    context = {"agreement": agreement, "form": form, "usage": usage, "refusal": refusal}
    return render(request, "web/licence_propose.html", context)


@login_required
def agreement_evidence(request: HttpRequest, public_id) -> HttpResponse:
    """The evidence pack of a licence (``?licence=``) or asset (``?asset=``) under this
    agreement, as GET /api/v1/evidence-packs/ gives it: the same scoping (404), the same
    roles (else a message), the export audited, the zip as an attachment."""
    agreement = _get(agreement_get_visible_to, user=request.user, public_id=public_id)
    kind = "licence" if "licence" in request.GET else "asset" if "asset" in request.GET else ""
    if not kind or ("licence" in request.GET and "asset" in request.GET):
        raise Http404
    try:
        subject = evidence_subject_get_visible_to(user=request.user, **{kind: request.GET[kind]})
    except NotFound:
        raise Http404
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("web:agreement-detail", public_id=agreement.public_id)
    # The link lives on this agreement's page; a group shot's pack also covers the other
    # talents' licences, which evidence_subject_get_visible_to already let the user see.
    if not any(licence.agreement_id == agreement.pk for licence in subject.licences):
        raise Http404
    try:
        return evidence_pack_download(subject=subject, viewer=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("web:agreement-detail", public_id=agreement.public_id)


# --- capture sessions -----------------------------------------------------------------------


@login_required
def capture_sessions(request: HttpRequest) -> HttpResponse:
    """The talent side's capture sessions: metadata and fees only, never an image."""
    rows = capture_session_rows(user=request.user)
    return render(request, "web/capture_sessions.html", {"rows": rows})


# --- the campaign manager -------------------------------------------------------------------


def _manager_only(request: HttpRequest) -> None:
    if campaign_brand_of(request.user) is None:
        raise Http404


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    requests = render_request_list_visible_to(user=request.user).order_by("-created_at")[:100]
    return render(request, "web/request_list.html", {"requests": requests})


def _request_form(request: HttpRequest, data=None) -> forms.RenderRequestForm:
    initial = {"width": 512, "height": 512, "steps": 25, "num_drafts": 2, "territory": "FR"}
    licences = licences_to_render_under(user=request.user)
    return forms.RenderRequestForm(data, initial=initial, licences=licences)


def _dry_run(request: HttpRequest, form: forms.RenderRequestForm):
    """The gate's dry run for what the form holds so far, or None until it can be asked."""
    form.is_valid()
    data = form.cleaned_data
    if not all(data.get(key) for key in ("licence", "brief", "territory", "medium")):
        return None
    try:
        return render_dry_run(
            user=request.user,
            licence_id=data["licence"],
            brief=data["brief"],
            territory=data["territory"],
            medium=data["medium"],
        )
    except NotFound:
        raise Http404


def _new_page(request: HttpRequest, form, dry_run, key: str) -> HttpResponse:
    context = {"form": form, "dry_run": dry_run, "idempotency_key": key}
    return render(request, "web/request_new.html", context)


@login_required
def request_new(request: HttpRequest) -> HttpResponse:
    _manager_only(request)
    key = request.POST.get("idempotency_key") or str(uuid.uuid4())
    if request.method != "POST":
        return _new_page(request, _request_form(request), None, key)
    form = _request_form(request, request.POST)
    if not form.is_valid():
        return _new_page(request, form, None, key)
    data = form.cleaned_data
    try:
        render_request = render_request_submit(
            requester=request.user,
            licences=[data["licence"]],
            brief=data["brief"],
            territory=data["territory"],
            medium=data["medium"],
            width=data["width"],
            height=data["height"],
            steps=data["steps"],
            num_drafts=data["num_drafts"],
            idempotency_key=f"web:{key}",
        )
    except NotFound:
        raise Http404
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _new_page(request, form, None, key)
    if render_request.status == RequestStatus.DENIED:
        messages.error(request, _("The gate denied this request; see the reasons below."))
    else:
        messages.success(request, _("Request submitted."))
    return redirect("web:request-detail", public_id=render_request.public_id)


@login_required
@require_POST
def request_check(request: HttpRequest) -> HttpResponse:
    """The dry run: a fragment for htmx, else the whole form page with the answer."""
    _manager_only(request)
    form = _request_form(request, request.POST)
    dry_run = _dry_run(request, form)
    if request.headers.get("HX-Request"):
        return render(request, "web/_dry_run.html", {"dry_run": dry_run})
    key = request.POST.get("idempotency_key") or str(uuid.uuid4())
    return _new_page(request, form, dry_run, key)


@login_required
def request_detail(request: HttpRequest, public_id) -> HttpResponse:
    render_request = _get(render_request_get_visible_to, user=request.user, public_id=public_id)
    assets = list(render_request.assets.order_by("index"))
    manager = campaign_brand_of(request.user) == render_request.organization
    return render(
        request,
        "web/request_detail.html",
        {
            "rr": render_request,
            "assets": assets,
            "manager": manager,
            "live": render_request.status in LIVE_STATUSES,
            "selectable": [a for a in assets if a.status == AssetStatus.DRAFT],
            "releasable": RELEASABLE,
            "blockers": request_blockers(render_request=render_request, assets=assets),
            "publication_form": forms.PublicationForm(),
        },
    )


@login_required
@require_POST
def request_select(request: HttpRequest, public_id) -> HttpResponse:
    render_request = _get(render_request_get_visible_to, user=request.user, public_id=public_id)
    form = forms.AssetSelectForm(request.POST, asset_ids=request.POST.getlist("assets"))
    if not form.is_valid():
        _form_errors(request, form)
    else:
        assets = _get(
            assets_get_visible_to, user=request.user, public_ids=form.cleaned_data["assets"]
        )
        if any(asset.render_request_id != render_request.pk for asset in assets):
            raise Http404
        _attempt(
            request,
            lambda: assets_select(assets=assets, actor=request.user),
            _("Sent to the talent for approval."),
        )
    return redirect("web:request-detail", public_id=render_request.public_id)


@login_required
@require_POST
def asset_release_view(request: HttpRequest, public_id) -> HttpResponse:
    asset = _get(asset_get_visible_to, user=request.user, public_id=public_id)
    _attempt(
        request,
        lambda: asset_release(asset=asset, actor=request.user),
        _("Released: the signed image can be downloaded."),
    )
    return redirect("web:request-detail", public_id=asset.render_request.public_id)


def _day_start_or_now(day: date) -> datetime:
    """A date the manager reports as a moment: today is now; an earlier day its start."""
    now = timezone.now()
    return now if day >= now.date() else datetime.combine(day, time(0), tzinfo=UTC)


@login_required
@require_POST
def asset_publication_view(request: HttpRequest, public_id) -> HttpResponse:
    asset = _get(asset_get_visible_to, user=request.user, public_id=public_id)
    form = forms.PublicationForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        published_at = _day_start_or_now(form.cleaned_data["published_at"])
        _attempt(
            request,
            lambda: asset_report_publication(
                asset=asset, actor=request.user, published_at=published_at
            ),
            _("First publication recorded."),
        )
    return redirect("web:request-detail", public_id=asset.render_request.public_id)
