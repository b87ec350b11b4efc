"""Plain Django forms for the pages; the services validate the rules, these the shapes."""

import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from rightsdesk.consent.models import Withdrawal
from rightsdesk.core.vocab import MEDIA, UnknownTerritory, expand_territory

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
