"""The demo story's twin (issue 4): capture, training, sign-off, and one render.

These steps need a Celery worker: training runs on the ``training`` queue and rendering
on the ``gpu`` queue, in the worker's process, never in this one (which must not import
torch). ``world.worker`` starts one when the story gets here (``manage.py demo``), or
stands for one already consuming the broker. Each step waits for the worker by reading the
database, as a client of the API would, and fails naming what it waited for if the
worker dies or takes too long.

Like every step of the story they are idempotent: a rerun finds the capture session by its
studio, the photos by their SHA-256, the likeness by its session and the render request
by its idempotency key, and starts nothing new.
"""

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from rightsdesk.audit.evidence import evidence_pack_write
from rightsdesk.audit.evidence_check import evidence_check
from rightsdesk.audit.evidence_selectors import evidence_subject_of
from rightsdesk.core.demo_photos import STUDIO_SHOTS, studio_capture
from rightsdesk.ledger.checks import ledger_reconcile
from rightsdesk.ledger.selectors import ledger_statement
from rightsdesk.ledger.types import owner_ref
from rightsdesk.licensing.memo import money_format
from rightsdesk.provenance.verification import verify_image
from rightsdesk.renders.models import RenderRequest
from rightsdesk.renders.outputs import (
    asset_release,
    asset_report_publication,
    assets_approve,
    assets_select,
)
from rightsdesk.renders.services import render_request_submit
from rightsdesk.renders.states import AssetStatus, RequestStatus
from rightsdesk.talent.capture import (
    capture_image_upload,
    capture_notice_waive,
    capture_session_close,
    capture_session_schedule,
)
from rightsdesk.talent.models import CaptureImage, CaptureSession, LikenessVersion
from rightsdesk.talent.training import (
    likeness_samples_of,
    likeness_sign_off,
    likeness_training_start,
)

DEMO_STUDIO = "Studio Lumière, Paris"
DEMO_PHOTOGRAPHER = "Noa Photographer"
DEMO_PHOTOGRAPHER_LICENCE = (
    "The photographer licenses these photographs to the talent for training the talent's "
    "own digital twin, and for nothing else."
)
# A short training, so that the demo runs in under a minute on a laptop CPU; a real
# likeness on a real base model wants RIGHTSDESK_TRAINING_STEPS (200) or more.
DEMO_TRAINING_STEPS = 40
# What Maison Demo pays for the capture day and for the trained twin (talent.fees).
DEMO_CAPTURE_FEE_MINOR = 150_000
DEMO_TRAINING_FEE_MINOR = 100_000
DEMO_APPEARANCE_LIMITS = ("body_reshaping", "skin_tone")
DEMO_RENDER_KEY = "demo-spring-2027-render-1"
DEMO_RENDER_SIZE = 256  # the ceiling for the demo on a CPU
DEMO_RENDER_STEPS = 8
DEMO_RENDER_DRAFTS = 2
DEMO_RENDER_SEED = 2027
# Generous: a cold worker first builds the tiny pipeline (a few seconds), then trains.
WAIT_TIMEOUT_S = 600.0
POLL_S = 0.25


def _wait(world, what: str, done: Callable[[], bool]) -> float:
    """Poll ``done`` until true; StepFailed when the worker died or the wait ran out."""
    from rightsdesk.core.demo_story import StepFailed

    started = time.monotonic()
    while not done():
        world.worker.check()
        if time.monotonic() - started > WAIT_TIMEOUT_S:
            raise StepFailed(f"waited {WAIT_TIMEOUT_S:.0f} s for {what}")
        time.sleep(POLL_S)
    return time.monotonic() - started


def _session(world) -> tuple[CaptureSession, bool]:
    found = (
        CaptureSession.objects.filter(talent=world.talent, studio_name=DEMO_STUDIO)
        .order_by("pk")
        .first()
    )
    if found is not None:
        return found, False
    session = capture_session_schedule(
        talent=world.talent,
        studio_name=DEMO_STUDIO,
        photographer_name=DEMO_PHOTOGRAPHER,
        photographer_training_licence=DEMO_PHOTOGRAPHER_LICENCE,
        scheduled_at=timezone.now(),
        actor=world.agent,
        agreement=world.agreement,
        capture_fee_minor=DEMO_CAPTURE_FEE_MINOR,
        training_fee_minor=DEMO_TRAINING_FEE_MINOR,
    )
    return session, True


def step_capture(world) -> str:
    """The agency books a studio; the talent waives the 48-hour notice (she is there);
    the photos are checked, hashed and sealed under her data key as they arrive."""
    world.worker.ensure()  # started early: the worker loads its pipeline meanwhile
    session, created = _session(world)
    if session.status != CaptureSession.Status.CLOSED:
        session = capture_notice_waive(session=session, actor=world.talent.user)
        for index, (_label, png) in enumerate(studio_capture()):
            sha256 = hashlib.sha256(png).hexdigest()
            if CaptureImage.objects.filter(session=session, sha256=sha256).exists():
                continue
            upload = ContentFile(png, name=f"demo-{index:02d}.png")
            capture_image_upload(session=session, file=upload, actor=world.agent)
        session = capture_session_close(session=session, actor=world.agent)
    world.capture_session = session
    images = list(CaptureImage.objects.filter(session=session).order_by("pk"))
    key_ids = sorted({image.key_id for image in images})
    state = "booked and shot just now" if created else "already shot on an earlier run"
    return "\n".join(
        [
            f"{DEMO_STUDIO}, photographer {DEMO_PHOTOGRAPHER}: {state}; commissioned by "
            f"{world.agreement.brand.name} under the agreement, capture fee "
            f"{money_format(session.capture_fee_minor, session.fee_currency)} on closing, "
            f"training fee {money_format(session.training_fee_minor, session.fee_currency)}",
            f"the talent waived the 48-hour notice at {session.notice_waived_at:%Y-%m-%d %H:%M} "
            "UTC; the capture consent covered the session",
            f"{len(images)} synthetic photos ({', '.join(s.label for s in STUDIO_SHOTS[:3])}, "
            "...): each checked, hashed (SHA-256) and sealed with AES-GCM under the "
            f"talent's data key {', '.join(key_ids)}; only ciphertext is on disk",
        ]
    )


def _likeness(world) -> LikenessVersion | None:
    return (
        LikenessVersion.objects.filter(talent=world.talent, capture_session=world.capture_session)
        .exclude(status__in=[LikenessVersion.Status.FAILED, LikenessVersion.Status.REJECTED])
        .order_by("-version")
        .first()
    )


def step_train(world) -> str:
    """The agency starts training under the talent's train consent; the worker trains a
    LoRA adapter, seals it, and renders sample images for the sign-off."""
    from rightsdesk.core.demo_story import StepFailed

    world.worker.ensure()
    likeness = _likeness(world)
    started_now = likeness is None
    if started_now:
        likeness = likeness_training_start(
            session=world.capture_session, actor=world.agent, steps=DEMO_TRAINING_STEPS
        )
    rows = LikenessVersion.objects.filter(pk=likeness.pk)
    waited = _wait(
        world,
        f"likeness v{likeness.version} to finish training",
        lambda: rows.values_list("status", flat=True).get() != LikenessVersion.Status.TRAINING,
    )
    likeness = rows.get()
    world.likeness = likeness
    if likeness.status == LikenessVersion.Status.FAILED:
        raise StepFailed(f"training failed: {', '.join(likeness.failure_reasons) or 'unknown'}")
    params = likeness.training_params
    timing = f"trained in {waited:.1f} s on the worker" if started_now else "trained earlier"
    return "\n".join(
        [
            f"likeness v{likeness.version} on {likeness.base_model}, trigger token "
            f"{likeness.trigger_token}: {timing}",
            f"LoRA rank {params.get('rank')}, {params.get('steps')} steps at "
            f"{params.get('resolution')} px; adapter sha256 {likeness.adapter_sha256[:12]}…, "
            f"sealed under key {likeness.adapter_key_id} (never on disk in plain form)",
            f"{len(likeness_samples_of(likeness=likeness))} sample images rendered for the "
            f"talent's sign-off; status {likeness.status}",
        ]
    )


def step_sign_off(world) -> str:
    """Only the talent (never the agency) signs the likeness off, with appearance limits."""
    likeness = world.likeness
    signed_now = likeness.status == LikenessVersion.Status.AWAITING_SIGNOFF
    if signed_now:
        likeness = likeness_sign_off(
            likeness=likeness,
            actor=world.talent.user,
            appearance_limits=DEMO_APPEARANCE_LIMITS,
        )
    world.likeness = likeness
    when = "just now" if signed_now else f"on {likeness.signed_off_at:%Y-%m-%d %H:%M} UTC"
    return "\n".join(
        [
            f"{world.talent.user.full_name} looked at the samples and signed likeness "
            f"v{likeness.version} off {when}",
            f"appearance limits the gate will enforce: {', '.join(likeness.appearance_limits)}",
        ]
    )


def step_render(world, licence_spec) -> str:
    """The campaign manager asks for drafts under licence A; the gate allows, the drafts
    are taken from the allowance, and the worker renders them."""
    from rightsdesk.core.demo_story import StepFailed

    world.worker.ensure()
    licence = world.licences[licence_spec.campaign]
    replay = RenderRequest.objects.filter(
        requester=world.manager, idempotency_key=DEMO_RENDER_KEY
    ).exists()
    render_request = render_request_submit(
        requester=world.manager,
        licences=[licence],
        brief=licence_spec.brief,
        width=DEMO_RENDER_SIZE,
        height=DEMO_RENDER_SIZE,
        steps=DEMO_RENDER_STEPS,
        seed=DEMO_RENDER_SEED,
        num_drafts=DEMO_RENDER_DRAFTS,
        idempotency_key=DEMO_RENDER_KEY,
        territory=licence_spec.territory,
        medium=licence_spec.medium,
    )
    rows = RenderRequest.objects.filter(pk=render_request.pk)
    ended = {RequestStatus.RENDERED, RequestStatus.DENIED, RequestStatus.CANCELLED}
    ended |= {RequestStatus.FAILED, RequestStatus.REJECTED}
    waited = _wait(
        world,
        f"render request {render_request.public_id} to finish",
        lambda: rows.values_list("status", flat=True).get() in ended,
    )
    render_request = rows.get()
    world.render_request = render_request
    if render_request.status != RequestStatus.RENDERED:
        raise StepFailed(
            f"render request ended {render_request.status}: {render_request.status_reason}"
        )
    assets = list(render_request.assets.order_by("index"))
    world.render_paths = [default_storage.path(asset.image.name) for asset in assets]
    return "\n".join(
        [
            f"{world.manager.full_name} asked for {render_request.num_drafts} drafts at "
            f"{render_request.width}x{render_request.height}, {render_request.steps} steps "
            f"(idempotency key {DEMO_RENDER_KEY}"
            + ("; a replay returns the same request" if replay else "")
            + "): the gate allowed",
            (
                "rendered on an earlier run: "
                if replay
                else f"rendered on the worker in {waited:.1f} s: "
            )
            + ", ".join(f"{asset.reference} ({asset.status})" for asset in assets),
            *world.render_paths,
        ]
    )


# --- issue 7: from drafts to a released, paid, verified image ------------------------------


def step_select_and_approve(world) -> str:
    """The manager selects the first draft; the talent approves it from the same batch."""
    asset = world.render_request.assets.order_by("index").first()
    if asset.status == AssetStatus.DRAFT:
        assets_select(assets=[asset], actor=world.manager)
    asset.refresh_from_db()
    if asset.status == AssetStatus.AWAITING_OUTPUT_APPROVAL:
        assets_approve(assets=[asset], actor=world.talent.user, note="Approved for the shop")
    asset.refresh_from_db()
    world.asset = asset
    return "\n".join(
        [
            f"{world.manager.full_name} selected {asset.reference}; the talent was asked to "
            f"approve it by {asset.approval_due_at:%Y-%m-%d %H:%M} UTC (silence would count "
            "as approval after that)",
            f"{world.talent.user.full_name} approved this exact image: {asset.status}",
        ]
    )


def step_release(world) -> str:
    """Release asks the gate again, counts the use, posts the reserved fee; the manager
    reports the first publication."""
    asset = world.asset
    if asset.status in (AssetStatus.APPROVED, AssetStatus.DEEMED_APPROVED):
        asset = asset_release(asset=asset, actor=world.manager)
    if asset.first_published_at is None:
        asset = asset_report_publication(
            asset=asset, actor=world.manager, published_at=asset.released_at
        )
    world.asset = asset
    world.released_path = default_storage.path(asset.image.name)
    return "\n".join(
        [
            f"released {asset.reference} at {asset.released_at:%Y-%m-%d %H:%M:%S} UTC; first "
            f"published {asset.first_published_at:%Y-%m-%d}",
            f"the signed image is downloadable at /api/v1/assets/{asset.public_id}/download/",
        ]
    )


def step_statement(world) -> str:
    """The fees are in the ledger; the talent's statement shows gross, commission, net."""
    owner = owner_ref("talent", world.talent.public_id)
    period = world.asset.released_at.strftime("%Y-%m")
    document = ledger_statement(owner=owner, period=period).statement.document()
    lines = [f"statement of {world.talent} for {period} (ledger owner {owner}):"]
    for account in document["accounts"]:
        for row in account["rows"]:
            lines.append(
                f"  {row['kind']:<8} {row['reference']:<52} gross "
                f"{money_format(row['gross_minor'], account['currency'])}, commission "
                f"{money_format(row['commission_minor'], account['currency'])}, net "
                f"{money_format(row['net_minor'], account['currency'])}"
            )
        lines.append(
            f"  balance {money_format(account['closing_balance_minor'], account['currency'])}"
        )
    reconcile = ledger_reconcile()
    problems = [problem for outcome in reconcile for problem in outcome.problems]
    lines.append(
        f"reconciliation: {len(reconcile)} checks, "
        + ("clean" if not problems else f"{len(problems)} problems: {problems[:3]}")
    )
    return "\n".join(lines)


def step_verify(world) -> str:
    """Anyone can upload the image and see what it is, without learning who the model is
    unless she opted in."""
    from rightsdesk.core.demo_story import StepFailed

    with default_storage.open(world.asset.image.name, "rb") as handle:
        report = verify_image(handle.read())
    if report.state != "trusted":
        raise StepFailed(f"the released image verified {report.state}: {report.codes}")
    return "\n".join([f"verification: {report.state}", *report.card.lines()])


def step_evidence(world) -> str:
    """Legal's evidence pack for the released image, written under var/evidence/ and
    checked offline the way a court's expert would."""
    from rightsdesk.core.demo_story import StepFailed

    folder = Path(settings.VAR_DIR) / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"asset-{world.asset.public_id}.zip"
    with path.open("wb") as out:
        pack = evidence_pack_write(subject=evidence_subject_of(world.asset), viewer=None, out=out)
    report = evidence_check(path)
    if not report.intact:
        raise StepFailed(f"the evidence pack did not verify: {report.problems}")
    return "\n".join(
        [
            f"{path} ({pack.files} files; audit events {pack.first_sequence}-"
            f"{pack.last_sequence}, {pack.relevant_events} about this image in full)",
            f"verified offline: intact, signed by key {report.key_fingerprint[:16]}…",
        ]
    )
