"""Creation consents, withdrawals and the gate's records.

Consent to capture and to train is the principal's alone, given on a stand-alone notice
whose exact text is versioned and hashed. Withdrawals are new rows, never edits: a consent
or licence is live until a withdrawal's effective time. Every gate decision is stored.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from rightsdesk.agreements.models import Agreement
from rightsdesk.licensing.models import Licence
from rightsdesk.talent.models import Talent


class ConsentKind(models.TextChoices):
    CAPTURE = "capture", "Capture"
    TRAIN = "train", "Training"


class ConsentNotice(models.Model):
    """The exact text shown to the principal (Ethyca Fides: which notice was shown)."""

    kind = models.CharField(max_length=16, choices=ConsentKind.choices)
    version = models.PositiveIntegerField()
    language = models.CharField(max_length=8, default="en")
    text = models.TextField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "version", "language"], name="consent_notice_unique"
            )
        ]


class CreationConsent(models.Model):
    talent = models.ForeignKey(Talent, on_delete=models.PROTECT, related_name="creation_consents")
    kind = models.CharField(max_length=16, choices=ConsentKind.choices)
    notice = models.ForeignKey(ConsentNotice, on_delete=models.PROTECT)
    notice_sha256 = models.CharField(max_length=64)
    # What it covers: a capture session (opaque reference until capture exists) or, for
    # `train`, the base model; training on another base model needs a new consent.
    scope_reference = models.CharField(max_length=200, blank=True)
    base_model = models.CharField(max_length=200, blank=True)
    given_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    given_role = models.CharField(max_length=16)  # talent, guardian, estate
    served_at = models.DateTimeField()
    answered_at = models.DateTimeField()
    method = models.CharField(max_length=32)  # web, api, paper (uploaded)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    public_id = models.UUIDField(unique=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(given_role__in=["talent", "guardian", "estate"]),
                name="creation_consent_principal_only",
            ),
            models.CheckConstraint(
                condition=~Q(kind="train") | ~Q(base_model=""),
                name="train_consent_names_base_model",
            ),
        ]


class Withdrawal(models.Model):
    class Kind(models.TextChoices):
        CONTRACTUAL = "contractual", "Contractual (after the notice period)"
        FOR_CAUSE = "for_cause", "For cause (at once)"
        DATA_PROTECTION = "data_protection", "Under data-protection law (at once)"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    licence = models.ForeignKey(Licence, null=True, blank=True, on_delete=models.PROTECT)
    agreement = models.ForeignKey(Agreement, null=True, blank=True, on_delete=models.PROTECT)
    creation_consent = models.ForeignKey(
        CreationConsent, null=True, blank=True, on_delete=models.PROTECT
    )
    talent = models.ForeignKey(Talent, on_delete=models.PROTECT, related_name="withdrawals")
    reason = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    requested_at = models.DateTimeField()
    effective_at = models.DateTimeField()
    run_off_until = models.DateTimeField()
    public_id = models.UUIDField(unique=True)

    class Meta:
        constraints = [
            # Exactly one target.
            models.CheckConstraint(
                condition=(
                    Q(licence__isnull=False, agreement__isnull=True, creation_consent__isnull=True)
                    | Q(
                        licence__isnull=True, agreement__isnull=False, creation_consent__isnull=True
                    )
                    | Q(
                        licence__isnull=True, agreement__isnull=True, creation_consent__isnull=False
                    )
                ),
                name="withdrawal_one_target",
            ),
            models.CheckConstraint(
                condition=Q(run_off_until__gte=models.F("effective_at")),
                name="withdrawal_run_off_after_effective",
            ),
        ]


class WithdrawalApplied(models.Model):
    """Marks that the periodic task has applied a withdrawal (cancelled what was queued),
    so it runs once; a row rather than an edit keeps Withdrawal append-only."""

    withdrawal = models.OneToOneField(Withdrawal, on_delete=models.PROTECT)
    applied_at = models.DateTimeField()


class GateDecision(models.Model):
    class Outcome(models.TextChoices):
        ALLOW = "allow", "Allow"
        NEEDS_APPROVAL = "needs_approval", "Needs approval"
        DENY = "deny", "Deny"

    created_at = models.DateTimeField()
    action = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reasons = models.JSONField()
    obligations = models.JSONField()
    query = models.JSONField()
    subject_reference = models.CharField(max_length=80, blank=True)  # e.g. "render_request:<uuid>"


class ObligationRule(models.Model):
    """The rule pack: which obligations an output carries, by territory and use."""

    code = models.CharField(max_length=64)
    applies_to_territories = models.JSONField(default=list)  # empty = everywhere
    applies_to_purposes = models.JSONField(default=list)  # empty = any purpose
    params = models.JSONField(default=dict)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["code"], name="obligation_rule_code")]
