"""Likeness training on the ``training`` queue, its sample renders, and the sign-off.

A likeness is trained from one capture session's images, only while the gate allows a
``train`` for the talent on the base model the worker runs (the id comes from
``generation.model_id``, torch-free, so the web process names the same model the worker
loads). Starting creates the next LikenessVersion (status ``training``) and enqueues
``train_likeness_task``; the worker asks the gate again just before training, decrypts
the captures in memory, trains the LoRA, renders a few sample images with it, and stores
adapter and samples sealed under the talent's data key. Only then, in one transaction
that first checks the likeness is still ``training`` and the key still live, does the
likeness become ``awaiting_signoff``: a withdrawal that landed meanwhile (revoked, or
destroyed by the crypto-shred) makes the worker discard everything it made.

Who starts training: whoever arranges the capture (staff, the principal, an agent of the
representing agency); the consent it runs under is the principal's own. Only the
principal (talent, guardian, estate) signs off or rejects, never an agent. The samples are
renders, not captures: the principal and the representing agency's agents may view them
(decrypted on the fly); no endpoint returns adapter or capture bytes.

``generation`` (torch) is imported only inside ``likeness_training_run``, which only the
Celery task calls.
"""

import hashlib
import logging
import secrets
import string
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from kombu.exceptions import KombuError

from generation.model_id import BaseModelIdError, base_model_id
from generation.spec import MAX_TRAIN_RESOLUTION, TrainSpec
from rightsdesk.accounts.models import User
from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.audit.services import audit_record
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import TRAIN, Decision, GateQuery
from rightsdesk.consent.screening import APPEARANCE_LIMIT_PHRASES
from rightsdesk.consent.selectors import creation_consent_in_force
from rightsdesk.core.errors import (
    BaseModelUnavailable,
    EncryptedDataInvalid,
    GateDenied,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.core.notifications import notify
from rightsdesk.core.worker import adapter_context  # torch-free; worker_pipeline is lazy
from rightsdesk.talent.capture import capture_context, may_arrange_capture, session_reference
from rightsdesk.talent.datakeys import encrypt_for_talent, talent_blob_opener
from rightsdesk.talent.errors import CaptureSessionEmpty, DataKeyDestroyed
from rightsdesk.talent.fees import (
    likeness_reference,
    training_fee_post,
    training_fee_reserve,
    training_fee_void,
)
from rightsdesk.talent.models import (
    CaptureImage,
    CaptureSession,
    LikenessSample,
    LikenessVersion,
    Talent,
    TalentDataKey,
    talent_lock,
)
from rightsdesk.talent.selectors import (
    agent_represents,
    ensure_principal,
    talent_list_visible_to,
    talent_principal_users,
)

logger = logging.getLogger(__name__)

Status = LikenessVersion.Status
DEFAULT_RANK = 4
DEFAULT_LEARNING_RATE = 1e-4
MAX_TRAINING_STEPS = 10_000
TRIGGER_PREFIX = "rdtk"
TRIGGER_ALPHABET = string.ascii_lowercase + string.digits
# The sign-off set: a few small renders, enough for the talent to recognise themself.
SAMPLE_PROMPTS = (
    "a portrait photo of {token} person",
    "a photo of {token} person, studio light",
    "a full body photo of {token} person",
    "a photo of {token} person outdoors",
)
SAMPLE_STEPS = 8
SAMPLE_GUIDANCE = 5.0
# Progress writes and status checks at most this often (seconds): a step of the tiny
# pipeline takes ~30 ms, and each write is a transaction.
PROGRESS_INTERVAL_S = 0.5
APPEARANCE_LIMITS = tuple(sorted(APPEARANCE_LIMIT_PHRASES))
# Stable failure codes besides the gate's own reason codes.
FAILURE_BASE_MODEL_MISMATCH = "base_model_mismatch"
FAILURE_DATA_KEY_DESTROYED = "data_key_destroyed"
FAILURE_TIME_LIMIT = "training_time_limit"
FAILURE_ERROR = "training_error"
FAILURE_NOT_QUEUED = "broker_unavailable"
FAILURE_LOST = "training_lost"


# Who may do what


def may_start_training(*, user: User, talent: Talent) -> bool:
    return may_arrange_capture(user=user, talent=talent)


def may_view_samples(*, user: User, talent: Talent) -> bool:
    """The principal and agents of the agency representing the talent directly: samples
    show the talent, so not staff, not a mother agency, never a brand."""
    if not (user.is_authenticated and user.is_active):
        return False
    if any(p.pk == user.pk for p in talent_principal_users(talent=talent)):
        return True
    return agent_represents(user=user, talent=talent)


# Reads


def current_base_model() -> str:
    """The id of the base model the workers run, as a training consent must name it."""
    try:
        return base_model_id(settings.RIGHTSDESK_BASE_MODEL or None)
    except BaseModelIdError as error:
        raise BaseModelUnavailable(str(error))


def likeness_list_visible_to(*, user: User):
    """Likenesses of the talents ``user`` sees (talent side, agencies, staff), newest first."""
    likenesses = LikenessVersion.objects.select_related("talent", "capture_session").order_by(
        "-created_at", "-pk"
    )
    if not (user.is_authenticated and user.is_active):
        return likenesses.none()
    if user_is_staff(user=user):
        return likenesses
    return likenesses.filter(talent__in=talent_list_visible_to(user=user).order_by().values("pk"))


def likeness_get_visible_to(*, user: User, public_id: uuid.UUID | str) -> LikenessVersion:
    try:
        return likeness_list_visible_to(user=user).get(public_id=public_id)
    except (LikenessVersion.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such likeness.")


def likeness_samples_of(*, likeness: LikenessVersion) -> list[LikenessSample]:
    return list(LikenessSample.objects.filter(likeness=likeness).order_by("index"))


def likeness_sample_png(*, likeness: LikenessVersion, index: int, user: User) -> bytes:
    """One sample render, decrypted in memory, for the principal or a representing agent.

    ``not_found`` for anyone else (they may see the likeness, not its images) and for a
    likeness revoked or destroyed; ``data_key_destroyed`` after a crypto-shred.
    """
    if not may_view_samples(user=user, talent=likeness.talent) or likeness.status in (
        Status.REVOKED,
        Status.DESTROYED,
    ):
        raise NotFound("No such sample.")
    sample = LikenessSample.objects.filter(likeness=likeness, index=index).first()
    if sample is None:
        raise NotFound("No such sample.")
    return _open_sample(likeness=likeness, sample=sample)


def _open_sample(*, likeness: LikenessVersion, sample: LikenessSample) -> bytes:
    with sample.blob.open("rb") as handle:
        blob = handle.read()
    opener = talent_blob_opener(talent=likeness.talent, key_id=sample.key_id)
    png = opener(blob, sample_context(sample.public_id))
    if hashlib.sha256(png).hexdigest() != sample.sha256:
        raise EncryptedDataInvalid("A likeness sample does not match its recorded SHA-256.")
    return png


def sample_context(sample_public_id: uuid.UUID) -> str:
    return f"likeness-sample:{sample_public_id}"


# Starting a training run


def _train_spec(*, trigger_token: str, rank: int, steps: int, resolution: int) -> TrainSpec:
    if not 1 <= steps <= MAX_TRAINING_STEPS:
        raise ValidationFailed(fields={"steps": [f"Between 1 and {MAX_TRAINING_STEPS}."]})
    try:
        # Seeded by the token: a redelivered task trains the same adapter again.
        seed = int.from_bytes(hashlib.sha256(trigger_token.encode()).digest()[:4], "big")
        return TrainSpec(
            trigger_token=trigger_token,
            rank=rank,
            steps=steps,
            learning_rate=DEFAULT_LEARNING_RATE,
            resolution=resolution,
            seed=seed,
        )
    except ValueError as error:
        raise ValidationFailed(fields={"training": [str(error)]})


def _new_trigger_token() -> str:
    while True:
        token = TRIGGER_PREFIX + "".join(secrets.choice(TRIGGER_ALPHABET) for _ in range(6))
        if not LikenessVersion.objects.filter(trigger_token=token).exists():
            return token


def _ask_gate_train(
    *, talent: Talent, base_model: str, subject: str, likeness: LikenessVersion | None = None
) -> Decision:
    return evaluate(
        GateQuery(
            action=TRAIN,
            at=timezone.now(),
            talents=(talent.pk,),
            likenesses=(likeness.pk,) if likeness is not None else (),
            base_model=base_model,
            subject_reference=subject,
        )
    )


def likeness_training_start(
    *,
    session: CaptureSession,
    actor: User,
    rank: int = DEFAULT_RANK,
    steps: int | None = None,
    resolution: int = MAX_TRAIN_RESOLUTION,
    trigger_token: str | None = None,
) -> LikenessVersion:
    """Create the talent's next likeness (status ``training``) from ``session``'s images
    and enqueue its training, if the gate allows a ``train`` on the current base model.

    Refusals: ``permission_denied`` (not staff, principal or representing agent),
    ``capture_session_empty``, ``validation_error`` (rank, steps, resolution, token),
    ``base_model_unavailable``, ``gate_denied`` (``extra.reasons``: no_train_consent,
    withdrawal_effective, identity_not_verified, ...). Nothing is written on a refusal
    but the gate's stored decision.
    """
    session = CaptureSession.objects.select_related("talent").get(pk=session.pk)
    talent = session.talent
    if not may_start_training(user=actor, talent=talent):
        raise PermissionDenied(
            "Only staff, the talent's principal or an agent of the representing agency may "
            "start training a likeness."
        )
    steps = settings.RIGHTSDESK_TRAINING_STEPS if steps is None else steps
    if (
        trigger_token is not None
        and LikenessVersion.objects.filter(trigger_token=trigger_token).exists()
    ):
        raise ValidationFailed(fields={"trigger_token": ["This trigger token is taken."]})
    spec = _train_spec(
        trigger_token=trigger_token or _new_trigger_token(),
        rank=rank,
        steps=steps,
        resolution=resolution,
    )
    images = list(
        CaptureImage.objects.filter(session=session)
        .order_by("created_at", "pk")
        .values_list("sha256", flat=True)
    )
    if not images:
        raise CaptureSessionEmpty()
    base_model = current_base_model()
    # Outside the transaction below, so that a denial's stored decision is kept.
    decision = _ask_gate_train(
        talent=talent, base_model=base_model, subject=session_reference(session)
    )
    if not decision.allowed:
        raise GateDenied(reasons=decision.codes(), gate_decision=decision.decision_id)
    return _likeness_create(
        session=session,
        actor=actor,
        spec=spec,
        images=images,
        base_model=base_model,
        decision=decision,
    )


@transaction.atomic
def _likeness_create(
    *,
    session: CaptureSession,
    actor: User,
    spec: TrainSpec,
    images: list[str],
    base_model: str,
    decision: Decision,
) -> LikenessVersion:
    talent = session.talent
    # The talent row serialises two starts: each gets its own version number.
    talent_lock(talent_id=talent.pk)
    last = LikenessVersion.objects.filter(talent=talent).aggregate(last=Max("version"))["last"]
    consent = creation_consent_in_force(talent=talent, kind=TRAIN, base_model=base_model)
    params = {
        "rank": spec.rank,
        "alpha": spec.alpha,
        "steps": spec.steps,
        "learning_rate": spec.learning_rate,
        "resolution": spec.resolution,
        "seed": spec.seed,
        # Exactly these images, even if more are uploaded to the session later.
        "capture_images": images,
    }
    try:
        with transaction.atomic():
            likeness = LikenessVersion.objects.create(
                talent=talent,
                version=(last or 0) + 1,
                status=Status.TRAINING,
                base_model=base_model,
                trigger_token=spec.trigger_token,
                capture_session=session,
                requested_by=actor,
                training_params=params,
            )
    except IntegrityError:
        raise ValidationFailed(fields={"trigger_token": ["This trigger token is taken."]})
    # Before any GPU time: a budget that cannot pay the training fee refuses the start.
    training_fee_reserve(likeness=likeness, session=session, actor=actor)
    audit_record(
        actor=actor,
        action="likeness.training_requested",
        target=likeness,
        payload={
            "talent": str(talent.public_id),
            "version": likeness.version,
            "capture_session": str(session.public_id),
            "base_model": base_model,
            "train_consent": str(consent.public_id) if consent else None,
            "gate_decision": decision.decision_id,
            "capture_images_sha256": images,
            "rank": spec.rank,
            "steps": spec.steps,
            "resolution": spec.resolution,
        },
    )
    likeness_id = likeness.pk
    transaction.on_commit(lambda: _enqueue_training(likeness_id))
    return likeness


def _enqueue_training(likeness_id: int) -> None:
    """Send the training task of a committed likeness. A broker that cannot be reached
    (after kombu's retries) fails the training (``broker_unavailable``, its fee reservation
    voided) so that it can be asked for again, rather than answering a stored request with
    a 500 and leaving the likeness ``training`` with no task to train it. Not sent again
    later: a second message for a training that is running would train it twice."""
    from rightsdesk.talent.tasks import train_likeness_task

    try:
        train_likeness_task.delay(likeness_id)
    except (KombuError, OSError):
        logger.warning(
            "likeness %s: its training task was not sent (broker unreachable)",
            likeness_id,
            exc_info=True,
        )
        likeness_training_fail(likeness_id=likeness_id, reasons=[FAILURE_NOT_QUEUED])


# The worker's side (called by train_likeness_task only)


@dataclass(frozen=True)
class SampleImage:
    index: int
    png: bytes
    width: int
    height: int
    seed: int
    prompt: str


class _Progress:
    """Writes progress to the likeness row, at most every PROGRESS_INTERVAL_S, and notices
    when the likeness stopped being ``training`` (a withdrawal revoked or destroyed it)."""

    def __init__(self, likeness_id: int) -> None:
        self.likeness_id = likeness_id
        self.last_write = 0.0
        self.live = True

    def report(self, step: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last_write < PROGRESS_INTERVAL_S and step < total:
            return
        self.last_write = now
        # Held below 100 until the adapter and samples are stored.
        percent = min(99, step * 100 // max(total, 1))
        updated = LikenessVersion.objects.filter(
            pk=self.likeness_id, status=Status.TRAINING
        ).update(progress=percent, updated_at=timezone.now())
        self.live = updated == 1

    def should_stop(self) -> bool:
        return not self.live


def likeness_training_prepare(*, likeness_id: int) -> LikenessVersion | None:
    """Reload the likeness; None (do nothing) unless it is still ``training`` and the gate,
    asked again now, allows the ``train``. A denial fails it with the gate's codes."""
    likeness = (
        LikenessVersion.objects.select_related("talent", "capture_session")
        .filter(pk=likeness_id)
        .first()
    )
    if likeness is None or likeness.status != Status.TRAINING:
        return None  # redelivered, or retired before it ran: nothing to do
    decision = _ask_gate_train(
        talent=likeness.talent,
        base_model=likeness.base_model,
        subject=likeness_reference(likeness),
        likeness=likeness,
    )
    if not decision.allowed:
        likeness_training_fail(
            likeness_id=likeness.pk, reasons=decision.codes(), gate_decision=decision.decision_id
        )
        return None
    return likeness


def likeness_capture_images(*, likeness: LikenessVersion) -> list[bytes]:
    """The capture images chosen at the start, decrypted in memory, each hash-checked."""
    wanted = list(likeness.training_params.get("capture_images") or [])
    rows = {
        image.sha256: image
        for image in CaptureImage.objects.filter(
            session_id=likeness.capture_session_id, sha256__in=wanted
        )
    }
    openers: dict = {}
    images = []
    for sha256 in wanted:
        image = rows[sha256]
        if image.key_id not in openers:
            openers[image.key_id] = talent_blob_opener(talent=likeness.talent, key_id=image.key_id)
        with image.blob.open("rb") as handle:
            plaintext = openers[image.key_id](handle.read(), capture_context(image.public_id))
        if hashlib.sha256(plaintext).hexdigest() != sha256:
            raise EncryptedDataInvalid("A capture image does not match its recorded SHA-256.")
        images.append(plaintext)
    return images


def likeness_training_run(*, likeness_id: int) -> str:
    """Train the likeness on this worker; returns its final status (or "skipped").

    Only ``train_likeness_task`` calls it: it imports ``generation`` (torch).
    """
    import io

    from PIL import Image

    from generation.train import TrainingStopped, train_lora
    from rightsdesk.core.worker import worker_pipeline

    likeness = likeness_training_prepare(likeness_id=likeness_id)
    if likeness is None:
        return "skipped"
    loaded = worker_pipeline()
    if loaded.base_model_id != likeness.base_model:
        # The consent covers the base model named at the start, not whatever this runs.
        likeness_training_fail(likeness_id=likeness.pk, reasons=[FAILURE_BASE_MODEL_MISMATCH])
        return Status.FAILED
    try:
        images = [
            Image.open(io.BytesIO(data)) for data in likeness_capture_images(likeness=likeness)
        ]
    except DataKeyDestroyed:
        return _discard(likeness=likeness, stage="decrypt")
    spec = _train_spec(
        trigger_token=likeness.trigger_token,
        rank=likeness.training_params["rank"],
        steps=likeness.training_params["steps"],
        resolution=likeness.training_params["resolution"],
    )
    progress = _Progress(likeness.pk)
    try:
        result = train_lora(
            loaded, images, spec, progress.report, progress.should_stop, keep_loaded=True
        )
    except TrainingStopped:
        return _discard(likeness=likeness, stage="train")
    samples = _render_samples(
        loaded=loaded, likeness=likeness, sha256=result.sha256, adapter=result.adapter
    )
    stored = likeness_training_complete(
        likeness=likeness,
        adapter=result.adapter,
        adapter_sha256=result.sha256,
        samples=samples,
        timings={**result.timings, "load_pipeline": loaded.load_seconds},
    )
    if stored is None:
        loaded.adapters.evict(result.sha256)  # nothing of a discarded likeness stays warm
        return _current_status(likeness)
    return stored.status


def _render_samples(*, loaded, likeness: LikenessVersion, sha256: str, adapter: bytes):
    from generation.render import render
    from generation.spec import AdapterRef, RenderSpec

    side = settings.RIGHTSDESK_LIKENESS_SAMPLE_SIDE
    ref = AdapterRef(name=likeness_reference(likeness), sha256=sha256)
    samples = []
    for index, template in enumerate(SAMPLE_PROMPTS):
        prompt = template.format(token=likeness.trigger_token)
        spec = RenderSpec(
            prompt=prompt,
            width=side,
            height=side,
            steps=SAMPLE_STEPS,
            guidance_scale=SAMPLE_GUIDANCE,
            seed=index,
            adapter=ref,
        )
        # The adapter is still in the UNet (keep_loaded); the loader only serves if a
        # cache eviction dropped it.
        result = render(spec, pipeline=loaded, adapter_loader=lambda _ref: adapter)
        samples.append(
            SampleImage(index, result.png, result.width, result.height, spec.seed, prompt)
        )
    return samples


def _save_sealed(*, talent: Talent, data: bytes, context: str, name: str) -> tuple[str, str]:
    blob, key_id = encrypt_for_talent(talent=talent, plaintext=data, context=context)
    return default_storage.save(name, ContentFile(blob)), key_id


def likeness_training_complete(
    *,
    likeness: LikenessVersion,
    adapter: bytes,
    adapter_sha256: str,
    samples: Iterable[SampleImage],
    timings: dict[str, float],
) -> LikenessVersion | None:
    """Seal and store the adapter and the samples, then move to ``awaiting_signoff``.

    None, with every file it wrote deleted, when the likeness is no longer ``training`` or
    the talent's key was destroyed meanwhile (a withdrawal): nothing of it is kept.
    """
    talent = likeness.talent
    written: list[str] = []
    try:
        adapter_name, key_id = _save_sealed(
            talent=talent,
            data=adapter,
            context=adapter_context(likeness),
            name=f"adapters/{likeness.public_id.hex}.bin",
        )
        written.append(adapter_name)
        rows = []
        for sample in samples:
            public_id = uuid.uuid4()
            name, sample_key = _save_sealed(
                talent=talent,
                data=sample.png,
                context=sample_context(public_id),
                name=f"likeness_samples/{public_id.hex}.bin",
            )
            written.append(name)
            rows.append((public_id, name, sample_key, sample))
        stored = _likeness_store(
            likeness=likeness,
            adapter_name=adapter_name,
            adapter_sha256=adapter_sha256,
            key_id=key_id,
            rows=rows,
            timings=timings,
        )
    except DataKeyDestroyed:
        stored = None
    except BaseException:
        _delete(written)
        raise
    if stored is None:
        _delete(written)
        _discard(likeness=likeness, stage="store")
    return stored


def _delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


@transaction.atomic
def _likeness_store(
    *,
    likeness: LikenessVersion,
    adapter_name: str,
    adapter_sha256: str,
    key_id: str,
    rows: list,
    timings: dict[str, float],
) -> LikenessVersion | None:
    locked = LikenessVersion.objects.select_for_update().get(pk=likeness.pk)
    # Holding the key row: a shred either happened before (we see it, and discard) or
    # waits for this commit and then lists this adapter in its certificate.
    key = (
        TalentDataKey.objects.select_for_update()
        .filter(public_id=uuid.UUID(hex=key_id), talent_id=likeness.talent_id)
        .first()
    )
    if locked.status != Status.TRAINING or key is None or key.destroyed_at is not None:
        return None
    now = timezone.now()
    locked.adapter_file = adapter_name
    locked.adapter_sha256 = adapter_sha256
    locked.adapter_key_id = key_id
    locked.status = Status.AWAITING_SIGNOFF
    locked.progress = 100
    locked.trained_at = now
    locked.training_params = {
        **locked.training_params,
        "timings": {name: round(value, 4) for name, value in timings.items()},
    }
    locked.save(
        update_fields=[
            "adapter_file",
            "adapter_sha256",
            "adapter_key_id",
            "status",
            "progress",
            "trained_at",
            "training_params",
            "updated_at",
        ]
    )
    LikenessSample.objects.bulk_create(
        LikenessSample(
            public_id=public_id,
            likeness=locked,
            index=sample.index,
            blob=name,
            key_id=sample_key,
            sha256=hashlib.sha256(sample.png).hexdigest(),
            width=sample.width,
            height=sample.height,
            seed=sample.seed,
            prompt=sample.prompt,
        )
        for public_id, name, sample_key, sample in rows
    )
    training_fee_post(likeness=locked)
    _notify_principals_of_samples(likeness=locked)
    audit_record(
        actor=None,
        action="likeness.trained",
        target=locked,
        payload={
            "adapter_sha256": adapter_sha256,
            "data_key": key_id,
            "base_model": locked.base_model,
            "samples_sha256": [hashlib.sha256(row[3].png).hexdigest() for row in rows],
            "train_seconds": round(timings.get("train", 0.0), 3),
        },
    )
    return locked


def _notify_principals_of_samples(*, likeness: LikenessVersion) -> None:
    reference = likeness_reference(likeness)
    for user in talent_principal_users(talent=likeness.talent):
        notify(
            user=user,
            kind="likeness.awaiting_signoff",
            subject=f"Your likeness v{likeness.version} is ready for your sign-off",
            body=(
                f"Likeness version {likeness.version} has been trained. Look at its sample "
                "images and sign it off (with any appearance limits) or reject it. It cannot "
                "be used until you sign it off.\n"
            ),
            target_reference=reference,
            dedupe_key=f"{reference}:awaiting_signoff",
        )


def _current_status(likeness: LikenessVersion) -> str:
    return (
        LikenessVersion.objects.filter(pk=likeness.pk).values_list("status", flat=True).first()
        or ""
    )


def _discard(*, likeness: LikenessVersion, stage: str) -> str:
    """The likeness left ``training`` under the worker (a withdrawal revoked it, or the
    crypto-shred destroyed it): record that nothing was kept. Returns its status now."""
    if _current_status(likeness) == Status.TRAINING:
        # The key is gone but the likeness was not retired with it: it cannot train now.
        likeness_training_fail(likeness_id=likeness.pk, reasons=[FAILURE_DATA_KEY_DESTROYED])
    status = _current_status(likeness)
    with transaction.atomic():
        training_fee_void(likeness=likeness, reason=f"training_discarded:{stage}")
        audit_record(
            actor=None,
            action="likeness.training_discarded",
            target=likeness,
            payload={"stage": stage, "status": status},
        )
    return status


@transaction.atomic
def likeness_training_fail(
    *, likeness_id: int, reasons: list[str], gate_decision: int | None = None
) -> bool:
    """``training -> failed`` with stable reason codes; False if it had left ``training``."""
    updated = LikenessVersion.objects.filter(pk=likeness_id, status=Status.TRAINING).update(
        status=Status.FAILED, failure_reasons=list(reasons), updated_at=timezone.now()
    )
    if updated:
        likeness = LikenessVersion.objects.get(pk=likeness_id)
        training_fee_void(likeness=likeness, reason="training_failed")
        audit_record(
            actor=None,
            action="likeness.training_failed",
            target=likeness,
            payload={"reasons": list(reasons), "gate_decision": gate_decision},
        )
    return bool(updated)


def likeness_trainings_fail_lost(*, now: datetime | None = None) -> list[int]:
    """Fail (``training_lost``) the trainings nothing has touched for the longest a
    training may run (RIGHTSDESK_TRAINING_HARD_LIMIT_S) plus a day, the lifetime of their
    fee reservations. A running training writes its progress every PROGRESS_INTERVAL_S and
    is killed at the hard limit, so none of these is running; one that starts just as it
    is failed finds it so at its first progress write and stops (``_Progress``). Their task
    was lost (a worker killed outright on the file broker, a purged queue) or reached no
    worker in a day. Failed, they can be asked for again; they are not resent, since a
    second message for a training that was running after all would train it twice.
    Returns their ids."""
    cutoff = (now or timezone.now()) - timedelta(
        seconds=settings.RIGHTSDESK_TRAINING_HARD_LIMIT_S, days=1
    )
    lost = list(
        LikenessVersion.objects.filter(status=Status.TRAINING, updated_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [pk for pk in lost if likeness_training_fail(likeness_id=pk, reasons=[FAILURE_LOST])]


# The talent's sign-off


def _locked_for_decision(likeness: LikenessVersion, actor: User) -> LikenessVersion:
    locked = (
        LikenessVersion.objects.select_for_update().select_related("talent").get(pk=likeness.pk)
    )
    ensure_principal(user=actor, talent=locked.talent)
    if locked.status != Status.AWAITING_SIGNOFF:
        raise InvalidTransition(
            f"A likeness can be signed off or rejected only while awaiting sign-off; this one "
            f"is {locked.status}.",
            status=locked.status,
        )
    return locked


def _clean_limits(appearance_limits: Iterable[str]) -> list[str]:
    limits = list(appearance_limits)
    unknown = sorted({code for code in limits if code not in APPEARANCE_LIMIT_PHRASES})
    if unknown:
        raise ValidationFailed(
            fields={
                "appearance_limits": [
                    f"Unknown: {', '.join(unknown)}. Known: {', '.join(APPEARANCE_LIMITS)}."
                ]
            }
        )
    return sorted(set(limits))


@transaction.atomic
def likeness_sign_off(
    *, likeness: LikenessVersion, actor: User, appearance_limits: Iterable[str] = ()
) -> LikenessVersion:
    """The principal (never an agent: ``not_principal``) accepts the likeness from its
    samples, with the appearance limits the gate will enforce (codes of
    ``consent.screening.APPEARANCE_LIMIT_PHRASES``)."""
    limits = _clean_limits(appearance_limits)
    locked = _locked_for_decision(likeness, actor)
    now = timezone.now()
    locked.status = Status.SIGNED_OFF
    locked.signed_off_at = now
    locked.signed_off_by = actor
    locked.appearance_limits = limits
    locked.save(
        update_fields=[
            "status",
            "signed_off_at",
            "signed_off_by",
            "appearance_limits",
            "updated_at",
        ]
    )
    audit_record(
        actor=actor,
        action="likeness.signed_off",
        target=locked,
        payload={
            "appearance_limits": limits,
            "role": actor.role,
            "adapter_sha256": locked.adapter_sha256,
            # What the talent was shown when signing off.
            "samples_sha256": [s.sha256 for s in likeness_samples_of(likeness=locked)],
        },
    )
    return locked


@transaction.atomic
def likeness_reject(*, likeness: LikenessVersion, actor: User, reason: str) -> LikenessVersion:
    """The principal rejects the likeness from its samples, saying why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(fields={"reason": ["Say why the likeness is rejected."]})
    locked = _locked_for_decision(likeness, actor)
    now: datetime = timezone.now()
    locked.status = Status.REJECTED
    locked.rejected_at = now
    locked.rejected_by = actor
    locked.rejection_reason = reason
    locked.save(
        update_fields=["status", "rejected_at", "rejected_by", "rejection_reason", "updated_at"]
    )
    audit_record(
        actor=actor,
        action="likeness.rejected",
        target=locked,
        payload={
            "role": actor.role,
            # The chain is never erased: the talent's words stay on the row, their hash here.
            "reason_sha256": hashlib.sha256(reason.encode("utf-8")).hexdigest(),
        },
    )
    return locked
