import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rightsdesk.accounts.models import Organization
from rightsdesk.core.jurisdictions import is_minor
from rightsdesk.core.models import TimeStampedModel


class Talent(TimeStampedModel):
    """A model whose likeness may be captured. The talent owns the twin and is the licensor."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="talent_profile",
    )
    legal_name = models.CharField(max_length=200)
    stage_name = models.CharField(max_length=200, blank=True)
    date_of_birth = models.DateField()
    jurisdiction = models.CharField(max_length=6, help_text="ISO 3166-1 alpha-2 or 3166-2")
    preferred_language = models.CharField(max_length=8, default="en")
    deceased = models.BooleanField(default=False)
    # Off by default: a consumer learns the model's name only if the model opted in.
    stage_name_public = models.BooleanField(default=False)
    # A one-word stage name ("Summer") in a brief only asks for approval unless legal has
    # marked it distinctive, in which case it denies like a full name.
    stage_name_distinctive = models.BooleanField(default=False)
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    identity_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    identity_verification_method = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(identity_verified_at__isnull=True)
                | Q(identity_verified_by__isnull=False),
                name="talent_verification_has_attester",
            ),
        ]

    def __str__(self) -> str:
        # Never the legal name: str() reaches lists and logs, where a read is not audited.
        return self.stage_name or f"Talent {str(self.public_id)[:8]}"

    def is_minor(self, on: date | None = None) -> bool:
        return is_minor(
            date_of_birth=self.date_of_birth,
            jurisdiction=self.jurisdiction,
            on=on or timezone.now().date(),
        )

    @property
    def identity_verified(self) -> bool:
        return self.identity_verified_at is not None


def talent_lock(*, talent_id: int) -> None:
    """Hold the talent's row lock until the transaction ends.

    Every writer whose checks read across a talent's records takes it first (licence
    acceptance, external commitments and agreement activation for exclusivity; data keys;
    likeness version numbers), so none of them acts on a view another is changing.
    """
    Talent.objects.select_for_update().filter(pk=talent_id).values_list("pk").get()


class TalentProxy(TimeStampedModel):
    """A guardian (for a minor) or an estate (for a deceased talent) acting as principal."""

    class Kind(models.TextChoices):
        GUARDIAN = "guardian", "Guardian"
        ESTATE = "estate", "Estate"

    # No index of its own: talent_proxy_unique (talent, user, kind) leads with it.
    talent = models.ForeignKey(
        Talent, on_delete=models.PROTECT, related_name="proxies", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proxy_for"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    authority_document = models.FileField(upload_to="authority/", blank=True)
    authority_document_sha256 = models.CharField(max_length=64, blank=True)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["talent", "user", "kind"], name="talent_proxy_unique"),
        ]


class Representation(TimeStampedModel):
    """An agency's mandate for a talent: its commission and what it may do for the talent."""

    talent = models.ForeignKey(Talent, on_delete=models.PROTECT, related_name="representations")
    agency = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="representations"
    )
    # Commission is taken from the talent's fee only, never added to it; the cap
    # (RIGHTSDESK_MAX_COMMISSION_BPS, 20% under the NY Fashion Workers Act) is enforced by
    # the service, the absolute bound here.
    commission_bps = models.PositiveIntegerField()
    can_negotiate_uses = models.BooleanField(default=False)
    can_approve_outputs = models.BooleanField(default=False)
    can_view_earnings = models.BooleanField(default=False)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)
    mother_agency = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mother_representations",
    )
    # The mother agency's share OF the commission, in basis points of the commission.
    mother_agency_share_bps = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(commission_bps__lte=10000), name="representation_commission_bounded"
            ),
            models.CheckConstraint(
                condition=Q(mother_agency_share_bps__lte=10000),
                name="representation_mother_share_bounded",
            ),
            models.CheckConstraint(
                condition=Q(mother_agency__isnull=False) | Q(mother_agency_share_bps=0),
                name="representation_mother_share_needs_mother",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="representation_valid_range",
            ),
        ]

    def is_current(self, at=None) -> bool:
        at = at or timezone.now()
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


class LikenessVersion(TimeStampedModel):
    """A trained likeness adapter. The talent signs it off from sample renders before use.

    ``training -> awaiting_signoff -> signed_off | rejected``, or ``training -> failed``;
    a withdrawal of the ``train`` consent revokes it, a crypto-shred destroys it. The
    adapter (safetensors) is stored only sealed under the talent's data key.
    """

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        FAILED = "failed", "Training failed"
        AWAITING_SIGNOFF = "awaiting_signoff", "Awaiting the talent's sign-off"
        SIGNED_OFF = "signed_off", "Signed off"
        REJECTED = "rejected", "Rejected by the talent"
        REVOKED = "revoked", "Revoked"
        DESTROYED = "destroyed", "Destroyed (crypto-shredded)"

    # No index of its own: likeness_version_unique (talent, version) leads with it.
    talent = models.ForeignKey(
        Talent, on_delete=models.PROTECT, related_name="likenesses", db_index=False
    )
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.TRAINING)
    base_model = models.CharField(max_length=200, help_text="The base pipeline it was trained on")
    trigger_token = models.CharField(max_length=64)
    adapter_file = models.FileField(upload_to="adapters/", blank=True)
    adapter_sha256 = models.CharField(max_length=64, blank=True)
    adapter_key_id = models.CharField(max_length=32, blank=True)
    # Appearance limits the gate enforces (no body reshaping, skin-tone or age change, ...).
    appearance_limits = models.JSONField(default=list, blank=True)
    training_params = models.JSONField(default=dict, blank=True)
    # PROTECT: the captures a likeness was trained from stay on record.
    capture_session = models.ForeignKey(
        "CaptureSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="likenesses",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Training progress, 0-100, written by the worker (throttled) while status is training.
    progress = models.PositiveSmallIntegerField(default=0)
    trained_at = models.DateTimeField(null=True, blank=True)
    # Stable codes only (gate reason codes, "data_key_destroyed", "training_error").
    failure_reasons = models.JSONField(default=list, blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The talent's own words; the audit chain keeps only their hash (it is never erased).
    rejection_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["talent", "version"], name="likeness_version_unique"),
            # The token is what the text encoder learns the likeness by: one per adapter.
            models.UniqueConstraint(fields=["trigger_token"], name="likeness_trigger_unique"),
            models.CheckConstraint(
                condition=~Q(status="signed_off") | Q(signed_off_at__isnull=False),
                name="likeness_signed_off_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | Q(rejected_at__isnull=False),
                name="likeness_rejected_has_time",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="likeness_progress_pct"),
        ]

    def __str__(self) -> str:
        return f"{self.talent} v{self.version}"


class LikenessSample(TimeStampedModel):
    """A sample render of a freshly trained likeness, shown to the talent for sign-off.

    It shows the talent, so it is sealed under the talent's data key like the adapter
    (context ``likeness-sample:<public_id>``); ``sha256`` is that of the PNG. Samples are
    renders, not captures: the principal and representing agents may view them.
    """

    # PROTECT: destruction certificates and the sign-off refer to what was shown.
    # No index of its own: likeness_sample_unique (likeness, index) leads with it.
    likeness = models.ForeignKey(
        LikenessVersion, on_delete=models.PROTECT, related_name="samples", db_index=False
    )
    index = models.PositiveSmallIntegerField()
    blob = models.FileField(upload_to="likeness_samples/")
    key_id = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    prompt = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["likeness", "index"], name="likeness_sample_unique"),
        ]

    def __str__(self) -> str:
        return f"Sample {self.index} of {self.likeness}"


class TalentNameGram(models.Model):
    """The brief screen's index: each registered name of a talent as normalised word n-grams
    (NFKD, accents stripped, casefolded), so that the gate finds "Zoé Durand" in a brief as
    one indexed lookup instead of scanning every talent."""

    # No index of its own: talent_gram_unique (talent, gram, source) leads with it.
    talent = models.ForeignKey(
        Talent, on_delete=models.CASCADE, related_name="name_grams", db_index=False
    )
    gram = models.CharField(max_length=200, db_index=True)
    words = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=16)  # legal_name or stage_name
    distinctive = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["talent", "gram", "source"], name="talent_gram_unique")
        ]


class TalentDataKey(models.Model):
    """A talent's data key, stored only wrapped by a key-encryption key (core.crypto).

    Captures and adapters are sealed under it. Destroying it (the wrapped key overwritten
    with nothing) makes all of them unreadable at once: crypto-shredding. The wrapped key is
    rewrapped on rotation and emptied on destruction; nothing else about a row ever changes
    (a trigger enforces it on PostgreSQL). A talent has at most one live key; after a
    destruction a new one is made only for a capture consent given after it.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: the destruction certificate and every blob's key id point at this row.
    talent = models.ForeignKey(Talent, on_delete=models.PROTECT, related_name="data_keys")
    wrapped_key = models.BinaryField()
    kek_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["talent"],
                condition=Q(destroyed_at__isnull=True),
                name="talent_data_key_one_live",
            ),
            models.CheckConstraint(
                condition=(Q(destroyed_at__isnull=True) & ~Q(wrapped_key=b""))
                | (Q(destroyed_at__isnull=False) & Q(wrapped_key=b"")),
                name="talent_data_key_destroyed_is_empty",
            ),
        ]

    def __str__(self) -> str:
        state = "destroyed" if self.destroyed_at else f"wrapped by {self.kek_id}"
        return f"Data key {self.key_id[:8]} of {self.talent} ({state})"

    @property
    def key_id(self) -> str:
        """The id stored beside every blob sealed under this key (32 hex characters)."""
        return self.public_id.hex


class DestructionCertificate(models.Model):
    """What a crypto-shred made unreadable, when and why: the exact canonical JSON that was
    appended to the audit chain (its sequence is kept), and its SHA-256."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    talent = models.ForeignKey(
        Talent, on_delete=models.PROTECT, related_name="destruction_certificates"
    )
    data_key = models.OneToOneField(
        TalentDataKey, on_delete=models.PROTECT, related_name="destruction_certificate"
    )
    created_at = models.DateTimeField(default=timezone.now)
    payload_json = models.TextField()
    sha256 = models.CharField(max_length=64)
    audit_sequence = models.PositiveBigIntegerField(unique=True)

    def __str__(self) -> str:
        return f"Destruction certificate {self.sha256[:12]} ({self.talent})"


class CaptureSession(TimeStampedModel):
    """A studio session photographing a talent. The talent's principals are told 48 hours
    ahead (they may waive it); the photographer's licence for training is recorded."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        OPEN = "open", "Open (images uploaded)"
        CLOSED = "closed", "Closed"

    talent = models.ForeignKey(Talent, on_delete=models.PROTECT, related_name="capture_sessions")
    studio_name = models.CharField(max_length=200)
    photographer_name = models.CharField(max_length=200)
    # The photographer owns the copyright in the photographs: training needs their licence.
    photographer_training_licence = models.TextField()
    scheduled_at = models.DateTimeField()
    notice_sent_at = models.DateTimeField()
    notice_waived_at = models.DateTimeField(null=True, blank=True)
    notice_waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # A capture a brand commissions names the agreement it is made under, and pays the
    # talent a capture fee when the session closes and a training fee when a likeness is
    # trained from it (talent.fees). PROTECT: the ledger's postings name the session.
    agreement = models.ForeignKey(
        "agreements.Agreement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="capture_sessions",
    )
    capture_fee_minor = models.PositiveBigIntegerField(default=0)
    training_fee_minor = models.PositiveBigIntegerField(default=0)
    fee_currency = models.CharField(max_length=3, default="EUR")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(notice_waived_at__isnull=True) | Q(notice_waived_by__isnull=False),
                name="capture_session_waiver_has_principal",
            ),
            models.CheckConstraint(
                condition=Q(agreement__isnull=False) | Q(capture_fee_minor=0, training_fee_minor=0),
                name="capture_session_fees_need_agreement",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "open", "closed"]),
                name="capture_session_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False),
                name="capture_session_closed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Capture of {self.talent} at {self.studio_name}"


class CaptureImage(TimeStampedModel):
    """One captured photograph, stored only encrypted under the talent's data key.

    ``blob`` holds ``nonce || ciphertext || tag`` (core.crypto) sealed with the associated
    data ``capture:<public_id>``; ``sha256`` is that of the plaintext as uploaded. No
    endpoint, admin page or command returns the bytes; only the training task reads them.
    """

    # PROTECT: destruction certificates list the images by hash.
    # No index of its own: capture_image_unique (session, sha256) leads with it.
    session = models.ForeignKey(
        CaptureSession, on_delete=models.PROTECT, related_name="images", db_index=False
    )
    sha256 = models.CharField(max_length=64)
    blob = models.FileField(upload_to="captures/")
    key_id = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=8)  # PNG, JPEG, WEBP
    byte_size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "sha256"], name="capture_image_unique"),
            models.CheckConstraint(
                condition=Q(format__in=["PNG", "JPEG", "WEBP"]), name="capture_image_format"
            ),
        ]

    def __str__(self) -> str:
        return f"Capture image {self.sha256[:12]}"
