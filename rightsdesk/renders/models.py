"""Render requests and their drafts (assets).

Status changes go through ``renders.services`` only, checked against ``renders.states``;
the database refuses a status that is not in the tables and out-of-range sizes.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from rightsdesk.accounts.models import Organization
from rightsdesk.core.models import TimeStampedModel
from rightsdesk.renders.states import AssetStatus, RequestStatus

# Bounds on what one request may ask of a GPU worker. 64 px is the smallest size the tests
# render (PITFALLS.md); 2048 px and 150 steps are beyond any SD 1.5 / SDXL campaign use.
MIN_SIDE = 64
MAX_SIDE = 2048
MAX_STEPS = 150
MAX_DRAFTS = 16
# Seeds are kept in the 32-bit range every diffusers front end accepts.
MAX_SEED = 2**32 - 1
# Classifier-free guidance: SD front ends offer 0-30; beyond it images burn out.
MAX_GUIDANCE = 30.0


class RenderRequest(TimeStampedModel):
    # PROTECT throughout: a request is named by audit events, gate decisions and ledger
    # reservations, so nothing it points at may disappear under it.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="render_requests",
        limit_choices_to={"kind": Organization.Kind.BRAND},
    )
    # No index of its own: the unique (requester, idempotency_key) index leads with it. With
    # both, PostgreSQL's cached plan for a submission's key probe took this one and filtered
    # every earlier request of the requester on each submission (bench/api_load.py).
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="render_requests",
        db_index=False,
    )
    # The one likeness rendered (generation renders one likeness per image); the licences
    # are in RenderRequestLicence, one per talent. Null only for a request denied because
    # its talent has no signed-off likeness.
    licences = models.ManyToManyField(
        "licensing.Licence", through="RenderRequestLicence", related_name="render_requests"
    )
    likeness = models.ForeignKey(
        "talent.LikenessVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="render_requests",
    )
    status = models.CharField(
        max_length=32, choices=RequestStatus.choices, default=RequestStatus.SUBMITTED
    )
    brief = models.TextField()
    # What the pipeline is given: composed by the system from the likeness's trigger token
    # and the brief, never taken from the user.
    prompt = models.TextField(blank=True)
    negative_prompt = models.TextField(blank=True)
    territory = models.CharField(max_length=32, blank=True)
    medium = models.CharField(max_length=32, blank=True)
    width = models.PositiveIntegerField(default=512)
    height = models.PositiveIntegerField(default=512)
    steps = models.PositiveIntegerField(default=25)
    seed = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Empty: chosen at render"
    )
    num_drafts = models.PositiveSmallIntegerField(default=1)
    guidance_scale = models.FloatField(default=5.0)
    # A retried submission with the same key and the same payload (request_hash, SHA-256 of
    # its canonical form) returns the first request; a different payload is an error.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    # PROTECT: the decisions are the evidence that this render was allowed. ``decision``
    # is the submission's; ``render_decision`` the gate's answer inside the GPU task.
    decision = models.ForeignKey(
        "consent.GateDecision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    render_decision = models.ForeignKey(
        "consent.GateDecision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # SHA-256 of the render spec the allow decision was given for (renders.selectors): the
    # task refuses a request whose spec no longer matches it.
    spec_sha256 = models.CharField(max_length=64, blank=True)
    # Why it was denied: the decision's deny codes, or draft_allowance_exhausted when the
    # allowance ran out between the decision and the conditional UPDATE.
    denial_reasons = models.JSONField(default=list, blank=True)
    cancel_reason = models.CharField(max_length=64, blank=True)
    failure_reason = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # "<host>:<pid>" of the pool process rendering it; a redelivered task takes over only
    # from a process that is gone or silent (renders.worker_render).
    worker_id = models.CharField(max_length=200, blank=True)
    # How many times the sweeper put it back on the queue (bounded by a setting).
    requeue_count = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When its drafts' usage-fee reservations lapse: a draft not released by then expires.
    drafts_expire_at = models.DateTimeField(null=True, blank=True)
    # The asset ids of its drafts, chosen when it is approved (renders.fees): the
    # reservations, watermarks and postings name them before the assets exist.
    draft_ids = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RequestStatus.values), name="render_request_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=100),
                name="render_request_progress_percent",
            ),
            models.CheckConstraint(
                condition=Q(width__gte=MIN_SIDE, width__lte=MAX_SIDE)
                & Q(height__gte=MIN_SIDE, height__lte=MAX_SIDE),
                name="render_request_size_bounded",
            ),
            models.CheckConstraint(
                condition=Q(steps__gte=1, steps__lte=MAX_STEPS), name="render_request_steps_bounded"
            ),
            models.CheckConstraint(
                condition=Q(num_drafts__gte=1, num_drafts__lte=MAX_DRAFTS),
                name="render_request_drafts_bounded",
            ),
            models.CheckConstraint(
                condition=Q(seed__isnull=True) | Q(seed__gte=0, seed__lte=MAX_SEED),
                name="render_request_seed_bounded",
            ),
            models.CheckConstraint(
                condition=Q(guidance_scale__gte=0, guidance_scale__lte=MAX_GUIDANCE),
                name="render_request_guidance_bounded",
            ),
            models.CheckConstraint(
                condition=Q(idempotency_key__isnull=True) | ~Q(request_hash=""),
                name="render_request_keyed_has_hash",
            ),
            models.UniqueConstraint(
                fields=["requester", "idempotency_key"], name="render_request_idempotency_unique"
            ),
        ]
        indexes = [
            # The stale-render sweeper scans rendering requests by heartbeat.
            models.Index(fields=["status", "heartbeat_at"], name="render_request_status_hb"),
        ]

    def __str__(self) -> str:
        return f"render request {self.public_id} ({self.status})"


class RenderRequestLicence(models.Model):
    """The licence a request renders under for one talent (a group shot names several).

    ``drafts_taken`` is what the request took from the licence's allowance; giving them
    back zeroes it with a conditional UPDATE, so they are returned exactly once.
    """

    # CASCADE would let a request take its licence links with it; requests are never
    # deleted, and the licence, talent and likeness are evidence: PROTECT throughout.
    # No index of its own: the unique (render_request, ...) pairs leads with it.
    render_request = models.ForeignKey(
        RenderRequest, on_delete=models.PROTECT, related_name="licence_links", db_index=False
    )
    licence = models.ForeignKey("licensing.Licence", on_delete=models.PROTECT, related_name="+")
    talent = models.ForeignKey("talent.Talent", on_delete=models.PROTECT, related_name="+")
    likeness = models.ForeignKey(
        "talent.LikenessVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    drafts_taken = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["render_request", "talent"], name="render_request_licence_one_per_talent"
            ),
            models.UniqueConstraint(
                fields=["render_request", "licence"], name="render_request_licence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.render_request} under licence {self.licence_id}"


class Asset(TimeStampedModel):
    """One draft of a render request. Other apps refer to it only by ``reference``."""

    # No index of its own: asset_index_unique (render_request, index) leads with it.
    render_request = models.ForeignKey(
        RenderRequest, on_delete=models.PROTECT, related_name="assets", db_index=False
    )
    index = models.PositiveSmallIntegerField(help_text="0-based draft number within the request")
    status = models.CharField(max_length=32, choices=AssetStatus.choices, default=AssetStatus.DRAFT)
    # The draft's PNG, under MEDIA_ROOT/assets/<request public id>/.
    image = models.FileField(upload_to="assets/", max_length=200, null=True, blank=True)
    image_sha256 = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    seed = models.PositiveBigIntegerField(null=True, blank=True)
    # What made it: timings (seconds), base_model_id, adapter_sha256, steps, worker.
    render_metadata = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=64, blank=True, help_text="Why it was rejected, ...")
    released_at = models.DateTimeField(null=True, blank=True)
    first_published_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Output approval: asked for when selected; silence until approval_due_at (the
    # agreement's window) counts as approval (deemed_approved).
    approval_due_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["render_request", "index"], name="asset_index_unique"),
            models.CheckConstraint(
                condition=Q(status__in=AssetStatus.values), name="asset_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=AssetStatus.RELEASED) | Q(released_at__isnull=False),
                name="asset_released_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """The opaque reference the ledger and provenance use; they never import renders."""
        return f"asset:{self.public_id}"
