"""Plain Django forms for the pages; the services validate the rules, these the shapes."""

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django import forms
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from rightsdesk.consent.models import Withdrawal
from rightsdesk.core.vocab import (
    MEDIA,
    InvalidTerritorySpec,
    TerritorySpec,
    UnknownTerritory,
    expand_territory,
)

# The deal memo's ISO 4217 exponents, so that a counter reads money as the memo writes it.
from rightsdesk.licensing.memo import _EXPONENTS as CURRENCY_EXPONENTS
from rightsdesk.renders.models import MAX_DRAFTS, MAX_SIDE, MAX_STEPS, MIN_SIDE


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea)


class AssetBatchForm(forms.Form):
    assets = forms.TypedMultipleChoiceField(label=_("Images"), choices=(), coerce=str)
    decision = forms.ChoiceField(choices=(("approve", _("Approve")), ("reject", _("Reject"))))
    reason = forms.CharField(label=_("Reason or note"), max_length=500, required=False)

    def __init__(self, *args, asset_ids: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assets"].choices = [(value, value) for value in asset_ids]

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Say why the images are rejected."))
        return data


class AssetSelectForm(forms.Form):
    assets = forms.TypedMultipleChoiceField(label=_("Drafts"), choices=(), coerce=str)

    def __init__(self, *args, asset_ids: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assets"].choices = [(value, value) for value in asset_ids]


class PublicationForm(forms.Form):
    published_at = forms.DateField(
        label=_("First publication date"), widget=forms.DateInput(attrs={"type": "date"})
    )


class WithdrawalForm(forms.Form):
    kind = forms.ChoiceField(label=_("How"), choices=Withdrawal.Kind.choices)
    reason = forms.CharField(label=_("Why"), max_length=500, widget=forms.Textarea)


class RenderRequestForm(forms.Form):
    licence = forms.TypedChoiceField(label=_("Licence"), coerce=uuid.UUID)
    brief = forms.CharField(
        label=_("Brief"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    territory = forms.CharField(
        label=_("Territory"), max_length=32, help_text=_("A country code such as FR, or EU")
    )
    medium = forms.ChoiceField(label=_("Medium"), choices=sorted(MEDIA.items()))
    width = forms.IntegerField(label=_("Width"), min_value=MIN_SIDE, max_value=MAX_SIDE)
    height = forms.IntegerField(label=_("Height"), min_value=MIN_SIDE, max_value=MAX_SIDE)
    steps = forms.IntegerField(label=_("Steps"), min_value=1, max_value=MAX_STEPS)
    num_drafts = forms.IntegerField(label=_("Drafts"), min_value=1, max_value=MAX_DRAFTS)

    def __init__(self, *args, licences, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["licence"].choices = [
            (str(licence.public_id), f"{licence.campaign} ({licence.talent}, {licence.status})")
            for licence in licences
        ]

    def clean_territory(self) -> str:
        value = self.cleaned_data["territory"].strip().upper()
        try:
            expand_territory(value)
        except UnknownTerritory:
            raise forms.ValidationError(_("Unknown territory."))
        return value


class CounterForm(forms.Form):
    """The talent side's other terms: the money and the drafts (the rest as proposed)."""

    usage_fee = forms.DecimalField(
        label=_("Fee per released image"), min_value=Decimal(0), decimal_places=3
    )
    buyout = forms.DecimalField(label=_("Buy-out"), min_value=Decimal(0), decimal_places=3)
    draft_allowance = forms.IntegerField(label=_("Drafts allowed"), min_value=1)
    note = forms.CharField(
        label=_("Note to the brand"), max_length=500, required=False, widget=forms.Textarea
    )

    @staticmethod
    def minor(amount: Decimal, currency: str) -> int:
        exponent = CURRENCY_EXPONENTS.get(currency, 2)
        return int((amount * 10**exponent).to_integral_value())


class SignForm(forms.Form):
    # The version's content hash as the page showed it: what the signer read.
    signed_sha256 = forms.RegexField(regex=r"^[0-9a-fA-F]{64}$", widget=forms.HiddenInput)


NOT_NAMED = ""
POLICY_CHOICES = (
    (NOT_NAMED, _("Not named (needs the talent's approval)")),
    ("allowed", _("Allowed")),
    ("with_approval", _("Allowed with the talent's approval")),
    ("never", _("Never")),
)


class AgreementAmendForm(forms.Form):
    """An amendment: the new document and every term, starting from the current version.
    Shapes only; the rules (caps, minors, categories) are agreement_amend's."""

    document = forms.FileField(
        label=_("Amendment document"),
        help_text=_("The text every party signs; its SHA-256 is part of what they sign."),
    )
    jurisdiction = forms.CharField(label=_("Governing law (country code)"), max_length=6)
    effective_from = forms.DateField(
        label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    effective_to = forms.DateField(
        label=_("Ends on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    max_licence_term_days = forms.IntegerField(label=_("Longest licence (days)"), min_value=1)
    withdrawal_notice_days = forms.IntegerField(
        label=_("Notice for a contractual withdrawal (days)"), min_value=0
    )
    run_off_days = forms.IntegerField(label=_("Run-off after a withdrawal (days)"), min_value=0)
    client_agency_fee_bps = forms.IntegerField(
        label=_("Client agency fee (basis points: 100 = 1%)"), min_value=0, max_value=10000
    )
    approval_window_hours = forms.IntegerField(
        label=_("Approval window (hours; then silence counts as approval)"), min_value=1
    )
    talent_had_counsel = forms.BooleanField(label=_("The talent had counsel"), required=False)
    talent_had_union = forms.BooleanField(
        label=_("The talent was represented by a union"), required=False
    )
    exclusivities = forms.CharField(
        label=_("Exclusivities"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One a line: category; territories; from; to. For example: "
            "fragrance; EU except FR; 2026-01-01; 2026-12-31"
        ),
    )

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.categories = list(categories)
        for category in self.categories:
            self.fields[f"policy_{category.slug}"] = forms.ChoiceField(
                label=_("Category: %(name)s") % {"name": _(category.name)},
                choices=POLICY_CHOICES,
                required=False,
            )

    def policy_fields(self):
        return [self[f"policy_{category.slug}"] for category in self.categories]

    def term_fields(self):
        return [self[name] for name in self.fields if not name.startswith("policy_")]

    def clean_exclusivities(self) -> list[dict]:
        rows = []
        text = self.cleaned_data["exclusivities"]
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split(";")]
            if len(parts) != 4 or not all(parts):
                raise forms.ValidationError(
                    _("Line %(n)d: write category; territories; from; to.") % {"n": number}
                )
            category, territories, starts, ends = parts
            try:
                spec = TerritorySpec.from_text(territories)
            except InvalidTerritorySpec as exc:
                raise forms.ValidationError(f"{number}: {exc}")
            rows.append(
                {
                    "category": category,
                    "territories": spec.to_json(),
                    "starts_at": _instant(starts, number),
                    "ends_at": _instant(ends, number),
                }
            )
        return rows

    def terms_json(self, *, keep: dict[str, datetime]) -> dict:
        """The terms as AgreementTerms.from_json reads them. A date left as it was keeps
        the current version's exact instant (``keep``), so an untouched term is unchanged."""
        data = self.cleaned_data
        terms = {
            name: data[name]
            for name in (
                "jurisdiction",
                "talent_had_counsel",
                "talent_had_union",
                "max_licence_term_days",
                "withdrawal_notice_days",
                "run_off_days",
                "client_agency_fee_bps",
                "approval_window_hours",
            )
        }
        for name in ("effective_from", "effective_to"):
            day, kept = data[name], keep.get(name)
            moment = kept if kept and kept.astimezone(UTC).date() == day else _midnight(day)
            terms[name] = moment.isoformat()
        terms["category_policies"] = {
            category.slug: data[f"policy_{category.slug}"]
            for category in self.categories
            if data.get(f"policy_{category.slug}")
        }
        terms["exclusivities"] = data["exclusivities"]
        return terms


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _instant(text: str, line: int) -> str:
    """A day ("2026-06-01": its start in UTC) or an instant with its offset, as ISO 8601
    with the offset (the terms parser takes a bare date for a time without a zone)."""
    if len(text) == 10 and (day := parse_date(text)) is not None:
        return _midnight(day).isoformat()
    moment = parse_datetime(text)
    if moment is None or moment.tzinfo is None:
        raise forms.ValidationError(_("Line %(n)d: write a date such as 2026-06-01.") % {"n": line})
    return moment.isoformat()


class UsageRowForm(forms.Form):
    medium = forms.ChoiceField(label=_("Medium"), choices=sorted(MEDIA.items()))
    territories = forms.CharField(
        label=_("Territories"),
        max_length=200,
        help_text=_("Country codes or groups, e.g. EU except FR, or US, CA"),
    )
    duration_days = forms.IntegerField(label=_("Days in use from first publication"), min_value=1)
    quantity = forms.IntegerField(label=_("Images that may be released"), min_value=1)

    def clean_territories(self) -> TerritorySpec:
        try:
            return TerritorySpec.from_text(self.cleaned_data["territories"]).validated()
        except UnknownTerritory as exc:
            raise forms.ValidationError(_("Unknown territory %(name)s.") % {"name": exc})
        except InvalidTerritorySpec as exc:
            raise forms.ValidationError(str(exc))


UsageFormSet = forms.formset_factory(
    UsageRowForm, extra=2, min_num=1, validate_min=True, max_num=6, validate_max=True
)


class LicenceProposalForm(forms.Form):
    """A licence brand legal proposes under an agreement; its usage rows are a formset.
    Dates are whole UTC days: the licence runs from the start of its first day (now, if
    that is today) to the end of its last."""

    campaign = forms.CharField(label=_("Campaign"), max_length=200)
    use_description = forms.CharField(
        label=_("The use, in plain words"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The talent reads this in the deal memo."),
    )
    purpose = forms.CharField(label=_("Purpose"), max_length=200, initial="advertising")
    advertiser = forms.CharField(label=_("Advertiser"), max_length=200)
    product_lines = forms.CharField(
        label=_("Product lines"),
        required=False,
        help_text=_("Separated by commas; may be left empty."),
    )
    category = forms.ChoiceField(label=_("Category"))
    currency = forms.CharField(label=_("Currency"), min_length=3, max_length=3, initial="EUR")
    buyout = forms.DecimalField(
        label=_("Buy-out"), min_value=Decimal(0), decimal_places=3, initial=0
    )
    usage_fee = forms.DecimalField(
        label=_("Fee per released image"), min_value=Decimal(0), decimal_places=3
    )
    draft_allowance = forms.IntegerField(label=_("Drafts allowed"), min_value=1)
    brief_approval_required = forms.BooleanField(
        label=_("Every brief needs the talent's approval"), required=False
    )
    starts_on = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))
    offer_expires_on = forms.DateField(
        label=_("Offer open until (last day)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    # The form's last fieldset, "Money and time"; the rest is the first, "The use".
    MONEY_FIELDS = (
        "currency",
        "buyout",
        "usage_fee",
        "draft_allowance",
        "starts_on",
        "ends_on",
        "offer_expires_on",
    )

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [
            (category.slug, _(category.name)) for category in categories
        ]

    def use_fields(self):
        return [self[name] for name in self.fields if name not in self.MONEY_FIELDS]

    def money_fields(self):
        return [self[name] for name in self.MONEY_FIELDS]

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", _("The last day must not be before the first."))
        return data

    @staticmethod
    def minor(amount: Decimal, currency: str) -> int:
        return CounterForm.minor(amount, currency)


# The service's names for the proposal's fields, to explain its refusals by the form's labels.
PROPOSAL_LABELS = {
    "campaign": _("Campaign"),
    "use_description": _("The use, in plain words"),
    "purpose": _("Purpose"),
    "advertiser": _("Advertiser"),
    "product_lines": _("Product lines"),
    "category": _("Category"),
    "currency": _("Currency"),
    "buyout_minor": _("Buy-out"),
    "usage_fee_minor": _("Fee per released image"),
    "draft_allowance": _("Drafts allowed"),
    "starts_at": _("First day"),
    "ends_at": _("Last day"),
    "offer_expires_at": _("Offer open until (last day)"),
    "usage": _("Usage"),
    "medium": _("Medium"),
    "territories": _("Territories"),
    "duration_days": _("Days in use from first publication"),
    "quantity": _("Images that may be released"),
}
