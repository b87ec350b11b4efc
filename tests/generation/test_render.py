"""Rendering a spec: PNG bytes of the requested size, the same pixels for the same spec,
progress every step, and cancellation within one step with no image."""

import io

import pytest
from PIL import Image

from generation.render import RenderCancelled, render
from tests.generation.helpers import pixels, render_spec


def test_render_returns_a_png_of_the_requested_size(loaded):
    result = render(render_spec(width=64, height=48), pipeline=loaded)

    image = Image.open(io.BytesIO(result.png))
    assert image.format == "PNG"
    assert image.size == (64, 48) == (result.width, result.height)
    assert (result.seed, result.steps) == (11, 4)
    assert result.base_model_id == loaded.base_model_id
    assert result.adapter_sha256 is None
    assert set(result.timings) == {"load", "denoise", "decode", "encode"}


def test_the_same_spec_renders_the_same_bytes(loaded):
    first = render(render_spec(), pipeline=loaded)
    second = render(render_spec(), pipeline=loaded)

    assert first.png == second.png


def test_another_seed_renders_other_pixels(loaded):
    first = render(render_spec(seed=1), pipeline=loaded)
    second = render(render_spec(seed=2), pipeline=loaded)

    assert (pixels(first.png) != pixels(second.png)).any()


def test_progress_is_reported_after_every_step(loaded):
    steps = []

    render(render_spec(steps=5), pipeline=loaded, on_step=lambda step, total: steps.append(step))

    assert steps == [1, 2, 3, 4, 5]


def test_cancelling_at_a_step_stops_there_and_gives_no_image(loaded, monkeypatch):
    steps = []
    decoded = []
    monkeypatch.setattr(loaded.pipe.vae, "decode", lambda *a, **k: decoded.append(1))

    with pytest.raises(RenderCancelled) as cancelled:
        render(
            render_spec(steps=6),
            pipeline=loaded,
            on_step=lambda step, total: steps.append(step),
            should_cancel=lambda: len(steps) >= 2,
        )

    assert cancelled.value.step == 2
    assert steps == [1, 2]
    assert decoded == []  # the VAE never ran: no image was made


def test_a_cancelled_render_leaves_the_pipeline_as_it_was(loaded):
    reference = render(render_spec(), pipeline=loaded)
    with pytest.raises(RenderCancelled):
        render(render_spec(), pipeline=loaded, should_cancel=lambda: True)

    assert render(render_spec(), pipeline=loaded).png == reference.png
