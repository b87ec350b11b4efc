"""A real Celery worker trains a likeness end to end on the tiny pipeline: the agent asks
through the API, the worker decrypts the captures, trains, renders the samples and stores
adapter and samples sealed; the principal sees the samples and signs the likeness off."""

import io
import time

import pytest
from PIL import Image

from rightsdesk.core.worker import adapter_bytes_for
from rightsdesk.talent.models import LikenessSample, LikenessVersion
from tests.talent.likeness_world import captured_talent

LIKENESSES = "/api/v1/likenesses/"
WAIT_S = 180.0


def wait_until_trained(likeness_id: int, worker) -> LikenessVersion:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        worker.assert_alive()
        likeness = LikenessVersion.objects.get(pk=likeness_id)
        if likeness.status != "training":
            return likeness
        time.sleep(0.1)
    pytest.fail(f"the likeness was still training after {WAIT_S}s:\n{worker.log_tail()}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_trains_a_likeness_that_the_talent_then_signs_off(
    world, as_user, celery_worker_process
):
    captured = captured_talent(world)
    started = time.monotonic()

    response = as_user(captured.agent).post(
        LIKENESSES,
        {"capture_session": str(captured.session.public_id), "steps": 6, "resolution": 64},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "training" and response.json()["samples"] == []
    likeness = wait_until_trained(
        LikenessVersion.objects.get(public_id=response.json()["public_id"]).pk,
        celery_worker_process,
    )
    elapsed = time.monotonic() - started
    assert likeness.status == "awaiting_signoff", (
        likeness.failure_reasons,
        celery_worker_process.log_tail(),
    )
    assert likeness.progress == 100
    assert likeness.adapter_sha256 and likeness.adapter_key_id
    assert len(adapter_bytes_for(likeness)) > 0  # sealed, and opens to its recorded hash
    assert LikenessSample.objects.filter(likeness=likeness).count() == 4
    timings = likeness.training_params["timings"]
    print(  # the figures for the closing note (pytest -s)
        f"\ntraining on the worker: {timings['per_step'] * 1000:.1f} ms/step, "
        f"{timings['train']:.2f}s for 6 steps, {elapsed:.2f}s from request to samples"
    )

    # The principal sees the samples (renders, not captures) and signs off.
    principal = as_user(captured.principal)
    detail = principal.get(f"{LIKENESSES}{likeness.public_id}/").json()
    assert len(detail["samples"]) == 4
    image = principal.get(detail["samples"][0])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image["Cache-Control"] == "private, no-store"
    assert Image.open(io.BytesIO(image.content)).format == "PNG"
    signed = principal.post(
        f"{LIKENESSES}{likeness.public_id}/sign-off/",
        {"appearance_limits": ["body_reshaping", "age_change"]},
        format="json",
    )
    assert signed.status_code == 200, signed.json()
    assert signed.json()["status"] == "signed_off"
    assert signed.json()["appearance_limits"] == ["age_change", "body_reshaping"]
