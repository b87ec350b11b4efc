"""Agreements between a talent (through an agency, if any) and a brand.

An Agreement is a thread of immutable AgreementVersions. Each version carries the document's
SHA-256 and the structured terms the gate reads; signatures bind one version's content hash.
A version becomes active when every required party has signed it; activating it supersedes
the previous one. Nothing here is edited after signing: an amendment is a new version.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from rightsdesk.accounts.models import Organization
from rightsdesk.core.models import TimeStampedModel
from rightsdesk.talent.models import Talent


class Category(models.Model):
    """A node of the use-category taxonomy (fragrance inside beauty). Kept in the database;
    the default tree is in code (agreements.taxonomy) and ensured on use, because
    transactional tests truncate rows seeded by migrations (PITFALLS.md)."""

    class GlobalPolicy(models.TextChoices):
        NONE = "none", "Decided by each agreement"
        NEVER = "never", "Never, whatever an agreement says"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT)
    global_policy = models.CharField(
        max_length=8, choices=GlobalPolicy.choices, default=GlobalPolicy.NONE
    )
    # Screening words for briefs (normalised); a brief mentioning one falls in this category.
    keywords = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Agreement(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        TERMINATED = "terminated", "Terminated"

    talent = models.ForeignKey(Talent, on_delete=models.PROTECT, related_name="agreements")
    brand = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    terminated_at = models.DateTimeField(null=True, blank=True)
    termination_reason = models.TextField(blank=True)


class AgreementVersion(TimeStampedModel):
    class Status(models.TextChoices):
        AWAITING_SIGNATURES = "awaiting_signatures", "Awaiting signatures"
        ACTIVE = "active", "Active"
        SUPERSEDED = "superseded", "Superseded by an amendment"
        EXPIRED = "expired", "Expired"
        TERMINATED = "terminated", "Terminated"

    # No index of its own: agreement_version_unique (agreement, number) leads with it.
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="versions", db_index=False
    )
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.AWAITING_SIGNATURES
    )
    document = models.FileField(upload_to="agreements/")
    document_sha256 = models.CharField(max_length=64)
    # The canonical JSON of every term below, and the hash parties sign: it covers the
    # document's hash and the terms, so neither can change under a signature.
    terms_json = models.TextField()
    content_sha256 = models.CharField(max_length=64)
    jurisdiction = models.CharField(max_length=6)
    # Recorded per version: AB 2602 and NY GOL §5-302 void a replica clause negotiated
    # without counsel or a union.
    talent_had_counsel = models.BooleanField(default=False)
    talent_had_union = models.BooleanField(default=False)
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField()
    max_licence_term_days = models.PositiveIntegerField()
    withdrawal_notice_days = models.PositiveIntegerField(default=30)
    run_off_days = models.PositiveIntegerField(default=90)
    client_agency_fee_bps = models.PositiveIntegerField(default=0)
    approval_window_hours = models.PositiveIntegerField(default=72)
    activated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "number"], name="agreement_version_unique"
            ),
            models.UniqueConstraint(
                fields=["agreement"],
                condition=Q(status="active"),
                name="agreement_one_active_version",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__gt=models.F("effective_from")),
                name="agreement_version_valid_range",
            ),
            models.CheckConstraint(
                condition=Q(client_agency_fee_bps__lte=10000), name="agreement_fee_bounded"
            ),
        ]


class CategoryPolicy(models.Model):
    class Policy(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        WITH_APPROVAL = "with_approval", "Allowed with the talent's approval"
        NEVER = "never", "Never"

    # No index of its own: category_policy_unique (version, category) leads with it.
    version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="category_policies", db_index=False
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT)
    policy = models.CharField(max_length=16, choices=Policy.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "category"], name="category_policy_unique")
        ]


class Exclusivity(models.Model):
    """The brand's exclusivity under one version: no other brand may license the talent in
    this category (and its sub-categories), in these territories, in this period."""

    version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="exclusivities"
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT)
    territories = models.JSONField()  # TerritorySpec JSON
    territory_codes = models.JSONField()  # expanded ISO codes, sorted
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()


class Signature(models.Model):
    class Party(models.TextChoices):
        PRINCIPAL = "principal", "Talent (or guardian or estate)"
        BRAND_LEGAL = "brand_legal", "Brand legal"

    # No index of its own: signature_one_per_party (version, party) leads with it.
    version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="signatures", db_index=False
    )
    party = models.CharField(max_length=16, choices=Party.choices)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    signer_role = models.CharField(max_length=32)  # talent, guardian, estate, agent, legal
    signed_sha256 = models.CharField(max_length=64)
    authentication_method = models.CharField(max_length=32)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    signed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "party"], name="signature_one_per_party")
        ]
