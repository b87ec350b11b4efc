"""Use licences. Accepting a licence is the talent's consent to that use (DESIGN.md).

A Licence moves proposed -> countered -> accepted | declined | expired | withdrawn. Every
proposal, counter and answer is a LicenceOffer row (append-only) holding the exact terms
and the deal memo's hash, so the history reads back in order. The Licence row carries the
terms in force and the counters the gate takes with a conditional UPDATE.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from rightsdesk.accounts.models import Organization
from rightsdesk.agreements.models import Agreement, AgreementVersion, Category
from rightsdesk.core.models import TimeStampedModel
from rightsdesk.talent.models import Talent


class Licence(TimeStampedModel):
    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        COUNTERED = "countered", "Countered"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        WITHDRAWN = "withdrawn", "Withdrawn"

    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="licences")
    agreement_version = models.ForeignKey(AgreementVersion, on_delete=models.PROTECT)
    # No index of its own: the (talent, status) index leads with it.
    talent = models.ForeignKey(
        Talent, on_delete=models.PROTECT, related_name="licences", db_index=False
    )
    brand = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    campaign = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    use_description = models.TextField()
    purpose = models.CharField(max_length=200)
    advertiser = models.CharField(max_length=200)
    product_lines = models.JSONField(default=list)
    category = models.ForeignKey(Category, on_delete=models.PROTECT)
    currency = models.CharField(max_length=3, default="EUR")
    buyout_minor = models.PositiveBigIntegerField(default=0)
    usage_fee_minor = models.PositiveBigIntegerField(default=0)  # per released asset
    draft_allowance = models.PositiveIntegerField()
    drafts_used = models.PositiveIntegerField(default=0)
    brief_approval_required = models.BooleanField(default=False)
    # The window in which assets may be made; it must fit the agreement's term and its
    # maximum licence term. Usage durations run from first publication, per usage row.
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deal_memo_sha256 = models.CharField(max_length=64, blank=True)
    first_published_at = models.DateTimeField(null=True, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            # The quota holds in the database even if a caller forgets the conditional UPDATE.
            models.CheckConstraint(
                condition=Q(drafts_used__lte=F("draft_allowance")), name="licence_drafts_within"
            ),
            models.CheckConstraint(
                condition=~Q(status="accepted") | Q(accepted_at__isnull=False),
                name="licence_accepted_has_time",
            ),
        ]
        indexes = [models.Index(fields=["talent", "status"])]


class UsageRow(models.Model):
    """One line of use: a medium, in territories, for a duration from first publication,
    up to a number of assets."""

    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="usage_rows")
    medium = models.CharField(max_length=32)
    territories = models.JSONField()  # TerritorySpec JSON as proposed
    territory_codes = models.JSONField()  # expanded ISO codes, sorted
    duration_days = models.PositiveIntegerField()
    quantity = models.PositiveIntegerField()
    quantity_used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity_used__lte=F("quantity")), name="usage_row_quantity_within"
            )
        ]


class LicenceOffer(models.Model):
    """An append-only step of the negotiation: proposal, counter or answer, with the exact
    terms shown and the deal memo's hash (Fides-style consent evidence)."""

    class Kind(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        COUNTERED = "countered", "Countered"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        WITHDRAWN = "withdrawn", "Withdrawn"

    # No index of its own: licence_offer_sequence (licence, sequence) leads with it.
    licence = models.ForeignKey(
        Licence, on_delete=models.PROTECT, related_name="offers", db_index=False
    )
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_role = models.CharField(max_length=32)
    terms_json = models.TextField()
    terms_sha256 = models.CharField(max_length=64)
    deal_memo_language = models.CharField(max_length=8, blank=True)
    deal_memo_text = models.TextField(blank=True)
    deal_memo_sha256 = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True)
    authentication_method = models.CharField(max_length=32, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["licence", "sequence"], name="licence_offer_sequence")
        ]
        ordering = ["licence", "sequence"]


class ExternalCommitment(TimeStampedModel):
    """An exclusivity the talent holds outside the system (a booking made elsewhere); the
    exclusivity check treats it like an agreement's."""

    talent = models.ForeignKey(Talent, on_delete=models.PROTECT, related_name="commitments")
    category = models.ForeignKey(Category, on_delete=models.PROTECT)
    territories = models.JSONField()
    territory_codes = models.JSONField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    counterparty = models.CharField(max_length=200, blank=True)  # seen by talent/agent only
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
