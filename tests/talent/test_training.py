"""Likeness training in-process: started only under a live `train` consent for the base
model the workers run, trained from the decrypted captures, stored sealed with sample
renders, and stopped with nothing kept when the consent goes. The real worker's run is in
test_training_worker.py."""

import io
from dataclasses import replace

import pytest
from PIL import Image

from generation.model_id import base_model_id
from rightsdesk.consent.models import GateDecision
from rightsdesk.core.errors import GateDenied, PermissionDenied
from rightsdesk.core.worker import adapter_bytes_for
from rightsdesk.talent import training
from rightsdesk.talent.models import LikenessSample, LikenessVersion
from rightsdesk.talent.training import likeness_training_run, likeness_training_start
from tests.talent.capture_world import withdraw
from tests.talent.likeness_world import captured_talent

LIKENESSES = "/api/v1/likenesses/"
QUICK = {"steps": 3, "resolution": 64}


def start(captured, django_capture_on_commit_callbacks, **kwargs) -> LikenessVersion:
    """Start training; the enqueue is captured, not sent (these tests run it in-process)."""
    with django_capture_on_commit_callbacks() as callbacks:
        likeness = likeness_training_start(
            session=captured.session, actor=kwargs.pop("actor", captured.agent), **QUICK, **kwargs
        )
    assert len(callbacks) == 1  # the task is enqueued only once the row is committed
    return likeness


def sealed_bytes(field) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


@pytest.mark.django_db
def test_the_base_model_is_named_without_torch(as_user, world):
    response = as_user(world.users["talent"]).get("/api/v1/base-model/")

    assert response.status_code == 200
    assert response.json() == {"id": "tiny-sd-v1", "kind": "tiny"}


@pytest.mark.django_db
def test_an_unreadable_base_model_folder_is_a_503_naming_it(as_user, world, settings, tmp_path):
    settings.RIGHTSDESK_BASE_MODEL = str(tmp_path / "no-such-model")

    response = as_user(world.users["talent"]).get("/api/v1/base-model/")

    assert response.status_code == 503
    assert response.json()["code"] == "base_model_unavailable"
    assert "no-such-model" in response.json()["message"]


@pytest.mark.django_db
def test_starting_training_creates_the_next_version_and_enqueues_it(
    captured, django_capture_on_commit_callbacks
):
    likeness = start(captured, django_capture_on_commit_callbacks)

    assert likeness.status == "training" and likeness.version == 1
    assert likeness.base_model == "tiny-sd-v1" == base_model_id(None)
    assert likeness.trigger_token.startswith("rdtk") and len(likeness.trigger_token) == 10
    assert likeness.trigger_token == likeness.trigger_token.lower()
    assert likeness.capture_session == captured.session
    assert len(likeness.training_params["capture_images"]) == 4
    assert likeness.training_params["rank"] == likeness.training_params["alpha"] == 4
    second = start(captured, django_capture_on_commit_callbacks, actor=captured.principal)
    assert second.version == 2 and second.trigger_token != likeness.trigger_token


@pytest.mark.django_db
@pytest.mark.parametrize("train_on", [None, "sdxl-base-1.0-0123456789ab"])
def test_training_is_refused_without_a_train_consent_for_this_base_model(
    world, train_on, django_capture_on_commit_callbacks
):
    captured = captured_talent(world, train_on=train_on)  # none, or for another base model
    decisions = GateDecision.objects.count()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(GateDenied) as refused:
        likeness_training_start(session=captured.session, actor=captured.agent, **QUICK)

    assert refused.value.extra["reasons"] == ["no_train_consent"]
    assert LikenessVersion.objects.count() == 0 and callbacks == []
    assert GateDecision.objects.count() == decisions + 1  # the denial is on record


@pytest.mark.django_db
def test_the_api_refuses_training_with_the_gates_codes_and_hides_foreign_sessions(world, as_user):
    captured = captured_talent(world, train_on="another-model")
    body = {"capture_session": str(captured.session.public_id), **QUICK}

    refused = as_user(captured.principal).post(LIKENESSES, body, format="json")
    foreign = as_user(world.users["agent_b"]).post(LIKENESSES, body, format="json")
    brand = as_user(world.users["campaign_manager"]).post(LIKENESSES, body, format="json")

    assert refused.status_code == 409
    assert refused.json()["code"] == "gate_denied"
    assert refused.json()["extra"]["reasons"] == ["no_train_consent"]
    assert foreign.status_code == 404 and brand.status_code == 404
    assert LikenessVersion.objects.count() == 0


@pytest.mark.django_db
def test_agency_legal_may_not_start_training(captured):
    with pytest.raises(PermissionDenied):
        likeness_training_start(
            session=captured.session, actor=captured.world.users["agency_legal"], **QUICK
        )
    assert LikenessVersion.objects.count() == 0


@pytest.mark.django_db
def test_a_likeness_trains_and_its_encrypted_adapter_renders_the_same_pixels(
    captured, django_capture_on_commit_callbacks, small_samples, clean_pipeline
):
    from generation.render import render
    from generation.spec import AdapterRef, RenderSpec

    likeness = start(captured, django_capture_on_commit_callbacks)

    assert likeness_training_run(likeness_id=likeness.pk) == "awaiting_signoff"

    likeness.refresh_from_db()
    assert likeness.progress == 100 and likeness.trained_at is not None
    sealed = sealed_bytes(likeness.adapter_file)
    plain = adapter_bytes_for(likeness)  # decrypted in memory, hash-checked
    assert b"lora" in plain and b"lora" not in sealed  # only ciphertext on disk
    samples = list(LikenessSample.objects.filter(likeness=likeness).order_by("index"))
    assert [s.index for s in samples] == [0, 1, 2, 3]
    first = training.likeness_sample_png(likeness=likeness, index=0, user=captured.principal)
    assert Image.open(io.BytesIO(first)).size == (64, 64)
    assert first not in sealed_bytes(samples[0].blob)
    # Drop the just-trained adapter from the worker's memory; reload it from its sealed
    # bytes and render the first sample again: the same pixels, bit for bit.
    clean_pipeline.adapters.clear()
    spec = RenderSpec(
        prompt=samples[0].prompt,
        width=64,
        height=64,
        steps=training.SAMPLE_STEPS,
        guidance_scale=training.SAMPLE_GUIDANCE,
        seed=samples[0].seed,
        adapter=AdapterRef(name="reloaded", sha256=likeness.adapter_sha256),
    )
    again = render(spec, pipeline=clean_pipeline, adapter_loader=lambda _: plain)
    assert again.png == first
    bare = render(replace(spec, adapter=None), pipeline=clean_pipeline)
    assert bare.png != first  # the adapter does change the image: the test can fail
    # A redelivered task finds the likeness past training and does nothing.
    assert likeness_training_run(likeness_id=likeness.pk) == "skipped"
    assert LikenessSample.objects.filter(likeness=likeness).count() == 4


@pytest.mark.django_db
def test_a_withdrawal_before_the_task_runs_leaves_nothing_to_train(
    captured, django_capture_on_commit_callbacks, clean_pipeline
):
    likeness = start(captured, django_capture_on_commit_callbacks)
    withdraw(captured.train_consent)  # data protection: at once; the key is shredded

    assert likeness_training_run(likeness_id=likeness.pk) == "skipped"

    likeness.refresh_from_db()
    assert likeness.status == "destroyed"
    assert not likeness.adapter_file and likeness.adapter_sha256 == ""
    assert not LikenessSample.objects.exists()


@pytest.mark.django_db
def test_a_withdrawal_during_training_discards_what_was_trained(
    captured, django_capture_on_commit_callbacks, clean_pipeline, monkeypatch
):
    likeness = start(captured, django_capture_on_commit_callbacks)
    report = training._Progress.report
    monkeypatch.setattr(training, "PROGRESS_INTERVAL_S", 0.0)

    def withdraw_at_first_step(self, step, total):
        if step == 1:
            withdraw(captured.train_consent)
        report(self, step, total)

    monkeypatch.setattr(training._Progress, "report", withdraw_at_first_step)

    assert likeness_training_run(likeness_id=likeness.pk) == "destroyed"

    likeness.refresh_from_db()
    assert not likeness.adapter_file and not LikenessSample.objects.exists()
    assert len(clean_pipeline.adapters) == 0  # nothing of it stays in the worker either


@pytest.mark.django_db
def test_the_task_asks_the_gate_again_and_fails_on_a_denial(
    captured, django_capture_on_commit_callbacks, clean_pipeline
):
    likeness = start(captured, django_capture_on_commit_callbacks)
    # A row pointed at a base model the talent never consented to (a forged change).
    LikenessVersion.objects.filter(pk=likeness.pk).update(base_model="sdxl-base-forged")

    assert likeness_training_run(likeness_id=likeness.pk) == "skipped"

    likeness.refresh_from_db()
    assert likeness.status == "failed"
    assert likeness.failure_reasons == ["no_train_consent"]
    assert not likeness.adapter_file and not LikenessSample.objects.exists()


def test_the_training_task_runs_on_its_own_queue_and_survives_a_lost_worker(settings):
    from rightsdesk.celery import app
    from rightsdesk.talent.tasks import train_likeness_task

    route = app.amqp.router.route({}, train_likeness_task.name)

    assert route["queue"].name == "training"
    assert train_likeness_task.acks_late and train_likeness_task.reject_on_worker_lost
    assert train_likeness_task.soft_time_limit == settings.RIGHTSDESK_TRAINING_SOFT_LIMIT_S
    assert train_likeness_task.time_limit == settings.RIGHTSDESK_TRAINING_HARD_LIMIT_S
