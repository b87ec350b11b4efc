"""The render task's body, run in this process on the worker's own pipeline holder: what it
renders, what it refuses, how it stops, and how it stays idempotent by request. The same
code under a real Celery worker is in test_render_worker.py."""

import io
import os
import socket
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from rightsdesk.audit.models import AuditEvent
from rightsdesk.licensing.models import Licence
from rightsdesk.provenance.models import ProvenanceRecord
from rightsdesk.renders import worker_render
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.services import (
    asset_folder,
    render_request_cancel,
    render_request_claim,
    render_request_for_task,
    render_request_sweep_stale,
)
from rightsdesk.renders.states import RequestStatus
from rightsdesk.renders.worker_render import render_request_run, worker_identity
from tests.consent.gate_world import withdraw
from tests.renders.likeness_world import build_likeness_world
from tests.renders.likeness_world import draft_files as _files

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    return None


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    return build_likeness_world()


def _queued(world, **spec):
    # In a test wrapped in a transaction on_commit never runs: nothing reaches a broker.
    render_request = world.submit(**spec)
    assert render_request.status == RequestStatus.QUEUED
    return render_request


def _pixels(asset: Asset) -> np.ndarray:
    with default_storage.open(asset.image.name, "rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"))


def _drafts_used(world, side="x") -> int:
    return Licence.objects.get(pk=getattr(world.gate, side).licence.pk).drafts_used


def test_task_renders_each_draft_as_a_png_asset_of_the_requested_size(world):
    render_request = _queued(world, num_drafts=2, width=64, height=72)

    assert render_request_run(render_request_id=render_request.pk) == "rendered"

    render_request.refresh_from_db()
    assert (render_request.status, render_request.progress) == ("rendered", 100)
    assets = list(render_request.assets.order_by("index"))
    assert [(a.index, a.status, a.width, a.height) for a in assets] == [
        (0, "draft", 64, 72),
        (1, "draft", 64, 72),
    ]
    assert [a.seed for a in assets] == [11, 12]
    for asset in assets:
        assert _pixels(asset).shape == (72, 64, 3)
        metadata = asset.render_metadata
        assert metadata["base_model_id"] == world.base_model
        assert metadata["adapter_sha256"] == world.gate.x.likeness.adapter_sha256
        assert set(metadata["timings"]) >= {"load", "denoise", "decode", "encode"}
    assert render_request.render_decision.outcome == "allow"


def test_every_draft_is_watermarked_and_signed_and_reads_trusted(world):
    from rightsdesk.provenance import watermark
    from rightsdesk.provenance.verification import verify_image

    # 256 px: at 64 px the watermark has too few blocks to carry its 64 bits.
    render_request = _queued(world, num_drafts=2, width=256, height=256, steps=2)

    assert render_request_run(render_request_id=render_request.pk) == "rendered"

    for asset in render_request.assets.order_by("index"):
        record = ProvenanceRecord.objects.get(asset_reference=asset.reference)
        assert asset.image.name == record.signed_file.name
        assert asset.image_sha256 == record.signed_sha256
        with default_storage.open(asset.image.name, "rb") as handle:
            signed = handle.read()
        report = verify_image(signed)
        assert report.state == "trusted"
        assert report.card is not None and report.card.asset_id == asset.public_id
        assert not report.card.approved_exact_image
        decoded = watermark.decode(Image.open(io.BytesIO(signed)))
        assert decoded.present
        assert decoded.payload == watermark.to_unsigned(record.watermark_payload)
        assert decoded.payload == watermark.payload_for(asset.public_id)


def test_a_signing_failure_fails_the_render_and_keeps_nothing_signed(world, monkeypatch):
    from rightsdesk.provenance.errors import SigningUnavailable
    from rightsdesk.renders import services

    real_sign, calls = services.provenance_sign, []

    def sign_once_then_fail(**kwargs):
        calls.append(kwargs["asset_reference"])
        if len(calls) > 1:
            raise SigningUnavailable()
        return real_sign(**kwargs)

    monkeypatch.setattr(services, "provenance_sign", sign_once_then_fail)
    render_request = _queued(world, num_drafts=2)
    audit_before = AuditEvent.objects.count()

    assert render_request_run(render_request_id=render_request.pk) == "signing_unavailable"

    render_request.refresh_from_db()
    assert (render_request.status, render_request.failure_reason) == (
        "failed",
        "signing_unavailable",
    )
    assert not render_request.assets.exists()
    assert not ProvenanceRecord.objects.exists() and _files(render_request) == []
    assert _drafts_used(world) == 0
    # Records are stored only with their asset rows: the draft signed before the failure
    # left no record to discard, and its file is gone.
    actions = list(
        AuditEvent.objects.filter(sequence__gt=audit_before).values_list("action", flat=True)
    )
    assert "render_request.failed" in actions
    assert "provenance.signed" not in actions and "provenance.discarded" not in actions


def test_a_then_b_then_a_through_the_task_path_gives_a_its_first_pixels(world):
    first_a = _queued(world, num_drafts=1)
    render_request_run(render_request_id=first_a.pk)
    b = _queued(world, side="y", num_drafts=1)
    render_request_run(render_request_id=b.pk)
    second_a = _queued(world, num_drafts=1)
    render_request_run(render_request_id=second_a.pk)

    [a1], [b1], [a2] = (list(r.assets.all()) for r in (first_a, b, second_a))
    raw = [asset.render_metadata["render_pixels_sha256"] for asset in (a1, b1, a2)]
    assert raw[0] == raw[2] and raw[0] != raw[1]
    # The signed files differ only by each asset's own watermark.
    a_again = np.abs(_pixels(a1).astype(int) - _pixels(a2).astype(int)).mean()
    a_vs_b = np.abs(_pixels(a1).astype(int) - _pixels(b1).astype(int)).mean()
    assert a_again < a_vs_b


def test_a_second_delivery_of_a_rendered_request_makes_no_second_set(world):
    render_request = _queued(world, num_drafts=2)
    render_request_run(render_request_id=render_request.pk)
    files = sorted(_files(render_request))

    again = render_request_run(render_request_id=render_request.pk)

    assert again == "already_rendered"
    assert render_request.assets.count() == 2
    assert sorted(_files(render_request)) == files


def test_task_for_a_denied_request_renders_nothing(world):
    denied = world.submit(brief="A model in lingerie on a pier")
    assert denied.status == RequestStatus.DENIED

    assert render_request_run(render_request_id=denied.pk) == "gate_required"

    denied.refresh_from_db()
    assert denied.status == RequestStatus.DENIED
    assert not denied.assets.exists() and _files(denied) == []
    event = AuditEvent.objects.get(
        target_id=str(denied.public_id), action="render_request.task_refused"
    )
    assert '"code":"gate_required"' in event.payload_json


def test_task_for_a_forged_id_renders_nothing(world):
    assert render_request_run(render_request_id=987654321) == "gate_required"
    assert not Asset.objects.exists()


def test_spec_edited_after_the_decision_fails_with_gate_required_and_drafts_back(world):
    render_request = _queued(world, num_drafts=2)
    RenderRequest.objects.filter(pk=render_request.pk).update(width=128)

    assert render_request_run(render_request_id=render_request.pk) == "gate_required"

    render_request.refresh_from_db()
    assert (render_request.status, render_request.failure_reason) == ("failed", "gate_required")
    assert not render_request.assets.exists()
    assert _drafts_used(world) == 0


def test_withdrawal_before_the_render_cancels_it_with_the_gate_codes(world):
    render_request = _queued(world, num_drafts=2)
    x = world.gate.x
    withdraw(
        licence=x.licence,
        talent=x.talent,
        by=x.talent.user,
        effective_at=timezone.now() - timedelta(minutes=1),
    )

    result = render_request_run(render_request_id=render_request.pk)

    render_request.refresh_from_db()
    assert result == "cancelled:withdrawal_effective"
    assert (render_request.status, render_request.cancel_reason) == (
        "cancelled",
        "withdrawal_effective",
    )
    assert render_request.render_decision.outcome == "deny"
    assert not render_request.assets.exists() and _files(render_request) == []
    assert _drafts_used(world) == 0


def test_the_last_drafts_of_an_allowance_still_render(world):
    # This request's drafts were taken at submission: the in-task gate is told it holds
    # them (drafts_held), so they are not counted twice. (The allowance can never be cut
    # below what is used: a constraint on the licence.)
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(draft_allowance=2)
    render_request = _queued(world, num_drafts=2)

    assert render_request_run(render_request_id=render_request.pk) == "rendered"
    assert _drafts_used(world) == 2
    assert (
        render_request.__class__.objects.get(pk=render_request.pk).render_decision.query[
            "drafts_held"
        ]
        == 2
    )


def test_cancel_during_the_render_stops_within_one_step_and_keeps_nothing(world, monkeypatch):
    render_request = _queued(world, num_drafts=2, steps=12)
    seen = []
    on_step = worker_render._Watch.on_step

    def cancel_at_step_3(watch, step, total, draft, steps):
        seen.append((draft, step))
        if (draft, step) == (0, 3):
            render_request_cancel(render_request=render_request, actor=world.manager)
        on_step(watch, step, total, draft, steps)

    monkeypatch.setattr(worker_render._Watch, "on_step", cancel_at_step_3)

    assert render_request_run(render_request_id=render_request.pk) == "stopped"

    assert seen == [(0, 1), (0, 2), (0, 3)]
    render_request.refresh_from_db()
    assert render_request.status == RequestStatus.CANCELLED
    assert not render_request.assets.exists() and _files(render_request) == []
    assert _drafts_used(world) == 0


def _heartbeat_writes(render_request) -> int:
    with CaptureQueriesContext(connection) as queries:
        render_request_run(render_request_id=render_request.pk)
    return sum(
        1
        for q in queries.captured_queries
        if q["sql"].startswith("UPDATE")
        and '"heartbeat_at"' in q["sql"]
        and '"started_at"' not in q["sql"]  # the claim (queued -> rendering) stamps one too
    )


def test_progress_and_heartbeat_writes_are_throttled(world, monkeypatch):
    # Without a throttle every step of the 2 x 10 would write; with one, none within it.
    monkeypatch.setattr(worker_render, "HEARTBEAT_INTERVAL_S", 0.0)
    assert _heartbeat_writes(_queued(world, num_drafts=2, steps=10)) == 20

    monkeypatch.setattr(worker_render, "HEARTBEAT_INTERVAL_S", 3600.0)
    render_request = _queued(world, num_drafts=2, steps=10)
    assert _heartbeat_writes(render_request) == 0
    assert RenderRequest.objects.get(pk=render_request.pk).progress == 100


def _rendering_as(render_request, worker_id: str, heartbeat_age_s: float = 0.0) -> None:
    RenderRequest.objects.filter(pk=render_request.pk).update(
        status=RequestStatus.RENDERING,
        worker_id=worker_id,
        heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_age_s),
    )


@pytest.mark.parametrize("meanwhile", ["cancelled", "taken"])
def test_a_request_that_moved_after_the_task_read_it_is_not_claimed(world, meanwhile):
    # Given a queued request the task has read, then cancelled by its requester or taken
    # by another worker.
    render_request = _queued(world, num_drafts=1)
    seen = render_request_for_task(render_request.pk)
    if meanwhile == "cancelled":
        render_request_cancel(render_request=render_request, actor=world.manager)
    else:
        other = render_request_for_task(render_request.pk)
        render_request_claim(render_request=other, worker_id="elsewhere:1", owner_gone=_never_gone)
    before = RenderRequest.objects.values("status", "worker_id").get(pk=render_request.pk)

    # When the task claims what it read.
    claimed = render_request_claim(
        render_request=seen, worker_id=worker_identity(), owner_gone=_never_gone
    )

    # Then it gets nothing, and the request is as the other party left it.
    assert claimed is None
    assert RenderRequest.objects.values("status", "worker_id").get(pk=render_request.pk) == before
    starts = AuditEvent.objects.filter(
        target_id=str(render_request.public_id), action="render_request.rendering"
    )
    assert starts.count() == (1 if meanwhile == "taken" else 0)


def _never_gone(render_request) -> bool:
    return False


def test_a_render_that_loses_its_request_after_signing_stores_no_record_and_no_file(
    world, monkeypatch
):
    # Given a render whose request another worker takes over while its drafts are signed.
    from rightsdesk.renders import services

    render_request = _queued(world, num_drafts=2)
    real_sign = services.render_drafts_sign

    def sign_then_lose(**kwargs):
        signed = real_sign(**kwargs)
        RenderRequest.objects.filter(pk=render_request.pk).update(worker_id="elsewhere:1")
        return signed

    monkeypatch.setattr(worker_render, "render_drafts_sign", sign_then_lose)
    audit_before = AuditEvent.objects.count()

    # When it comes to store them.
    outcome = render_request_run(render_request_id=render_request.pk)

    # Then it writes nothing: no asset, no provenance record, no signed file, no audit of
    # a signature; the request stays the other worker's.
    assert outcome == "not_ours"
    assert not render_request.assets.exists()
    assert not ProvenanceRecord.objects.exists() and _files(render_request) == []
    assert RenderRequest.objects.values_list("status", "worker_id").get(pk=render_request.pk) == (
        "rendering",
        "elsewhere:1",
    )
    actions = set(
        AuditEvent.objects.filter(sequence__gt=audit_before).values_list("action", flat=True)
    )
    assert "render_request.rendering" in actions
    assert not {action for action in actions if action.startswith("provenance.")}
    assert "render_request.rendered" not in actions


def test_redelivery_takes_over_a_render_whose_pool_process_died(world):
    render_request = _queued(world, num_drafts=2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _rendering_as(render_request, f"{socket.gethostname()}:{dead.pid}")
    # What the dead process wrote but never recorded.
    stray = asset_folder(render_request.public_id) + "/00-deadbeef.png"
    default_storage.save(stray, io.BytesIO(b"partial"))

    assert render_request_run(render_request_id=render_request.pk) == "rendered"

    render_request.refresh_from_db()
    assert render_request.worker_id == worker_identity()
    assert render_request.assets.count() == 2
    assert not default_storage.exists(stray)
    assert len(_files(render_request)) == 2
    assert AuditEvent.objects.filter(
        target_id=str(render_request.public_id), action="render_request.restarted"
    ).exists()


def test_redelivery_leaves_a_render_that_is_alive_elsewhere_alone(world):
    render_request = _queued(world, num_drafts=2)
    _rendering_as(render_request, f"{socket.gethostname()}:{os.getppid()}")

    assert render_request_run(render_request_id=render_request.pk) == "not_ours"

    render_request.refresh_from_db()
    assert render_request.status == RequestStatus.RENDERING
    assert render_request.worker_id.endswith(f":{os.getppid()}")
    assert not render_request.assets.exists()


def test_redelivery_takes_over_a_silent_render_on_another_host(world, settings):
    settings.RIGHTSDESK_RENDER_STALE_SECONDS = 60
    render_request = _queued(world, num_drafts=1)
    _rendering_as(render_request, "gpu-7.example:4242", heartbeat_age_s=120)

    assert render_request_run(render_request_id=render_request.pk) == "rendered"


def test_sweeper_requeues_a_stale_render_it_may_still_render(
    world, django_capture_on_commit_callbacks
):
    render_request = _queued(world, num_drafts=2)
    _rendering_as(render_request, "gone:1", heartbeat_age_s=600)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        swept = render_request_sweep_stale(stale_after=timedelta(minutes=5), max_requeues=2)

    render_request.refresh_from_db()
    assert [r.pk for r in swept] == [render_request.pk]
    assert (render_request.status, render_request.requeue_count) == ("queued", 1)
    assert (render_request.worker_id, render_request.heartbeat_at) == ("", None)
    assert len(callbacks) == 2  # discard stray files, send the task again
    assert _drafts_used(world) == 2
    # Requeued, it renders like any queued request.
    assert render_request_run(render_request_id=render_request.pk) == "rendered"


def test_sweeper_fails_a_stale_render_after_its_requeues_and_returns_the_drafts(world):
    render_request = _queued(world, num_drafts=2)
    _rendering_as(render_request, "gone:1", heartbeat_age_s=600)
    RenderRequest.objects.filter(pk=render_request.pk).update(requeue_count=2)

    render_request_sweep_stale(stale_after=timedelta(minutes=5), max_requeues=2)

    render_request.refresh_from_db()
    assert (render_request.status, render_request.failure_reason) == ("failed", "heartbeat_lost")
    assert _drafts_used(world) == 0


def test_soft_time_limit_fails_the_render_and_returns_the_drafts(world, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    def too_slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr("generation.render.render", too_slow)
    render_request = _queued(world, num_drafts=2)

    assert render_request_run(render_request_id=render_request.pk) == "time_limit"

    render_request.refresh_from_db()
    assert (render_request.status, render_request.failure_reason) == ("failed", "time_limit")
    assert _drafts_used(world) == 0


def test_a_revoked_task_stops_the_render_and_returns_the_drafts(world):
    render_request = _queued(world, num_drafts=2)

    result = render_request_run(render_request_id=render_request.pk, revoked=lambda: True)

    render_request.refresh_from_db()
    assert result == "cancelled:revoked"
    assert (render_request.status, render_request.cancel_reason) == ("cancelled", "revoked")
    assert not render_request.assets.exists() and _drafts_used(world) == 0


def test_revoking_a_queued_task_cancels_its_request(world):
    from types import SimpleNamespace

    from rightsdesk.renders.tasks import _cancel_revoked_render, render_request_task

    render_request = _queued(world, num_drafts=2)

    # What the worker's main process announces when a revoked message comes up.
    _cancel_revoked_render(
        sender=render_request_task, request=SimpleNamespace(args=[render_request.pk])
    )

    render_request.refresh_from_db()
    assert (render_request.status, render_request.cancel_reason) == ("cancelled", "revoked")
    assert _drafts_used(world) == 0


def test_an_adapter_trained_on_another_base_model_is_not_rendered(world):
    from tests.consent.gate_world import consent

    x = world.gate.x
    x.likeness.base_model = "sdxl-base-1.0-abc123"
    x.likeness.save(update_fields=["base_model"])
    consent(x.talent, "train", at=world.gate.now, base_model="sdxl-base-1.0-abc123")
    render_request = _queued(world, num_drafts=1)

    assert render_request_run(render_request_id=render_request.pk) == "base_model_mismatch"

    render_request.refresh_from_db()
    assert (render_request.status, render_request.failure_reason) == (
        "failed",
        "base_model_mismatch",
    )
    assert not render_request.assets.exists() and _drafts_used(world) == 0


def test_a_render_tells_its_requester_without_reading_the_user_again(world):
    # given a queued request
    render_request = _queued(world)

    # when the task renders it
    with CaptureQueriesContext(connection) as queries:
        assert render_request_run(render_request_id=render_request.pk) == RequestStatus.RENDERED

    # then the requester came with the task's own read: the "drafts ready" notice (one
    # INSERT) named them without another SELECT of the user table
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if 'FROM "accounts_user"' in sql]
    notice = world.manager.notices.get(kind="render_request_rendered")
    assert notice.target_reference == f"render_request:{render_request.public_id}"
