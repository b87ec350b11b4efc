"""Likeness adapters: trained on the tiny pipeline in a few CPU steps, saved as safetensors
bytes, reloaded from them to the same pixels, switched per request without leaking, and
evicted least recently used first (PITFALLS.md, "diffusers and peft")."""

import pytest
import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from generation.adapters import AdapterError, AdapterIntegrityError, serialise_adapter
from generation.render import render
from generation.spec import AdapterRef
from generation.train import TrainingStopped, train_lora
from tests.generation.helpers import adapters_in, pixels, render_spec, train_spec


@pytest.fixture(scope="module")
def adapters(loaded, captures):
    """Two adapters trained from the same captures with different seeds: 'a' and 'b'."""
    trained = {
        key: train_lora(loaded, captures, train_spec(seed=seed))
        for key, seed in (("a", 1), ("b", 2), ("c", 3))
    }
    return trained


def ref(result, name="likeness") -> AdapterRef:
    return AdapterRef(name=name, sha256=result.sha256)


def loader_for(*results):
    by_digest = {result.sha256: result.adapter for result in results}
    calls = []

    def load(adapter_ref):
        calls.append(adapter_ref.sha256)
        return by_digest[adapter_ref.sha256]

    load.calls = calls
    return load


def test_training_runs_a_few_steps_and_returns_safetensors_bytes(loaded, captures):
    progress = []

    result = train_lora(loaded, captures, train_spec(), progress=lambda s, t: progress.append(s))

    tensors = safetensors_load(result.adapter)
    assert progress == [1, 2, 3, 4, 5] and len(result.loss_history) == 5
    assert (result.rank, result.alpha, result.steps) == (4, 4, 5)
    assert tensors and all(key.startswith("unet.") for key in tensors)
    assert {key.split(".lora_")[0].rsplit(".", 1)[-1] for key in tensors} >= {"to_q", "to_k"}
    assert not adapters_in(loaded)  # the training adapter did not stay behind


def test_training_is_repeatable_from_its_seed(loaded, captures, adapters):
    again = train_lora(loaded, captures, train_spec(seed=1))

    assert again.sha256 == adapters["a"].sha256


def test_an_adapter_changes_the_render(loaded, adapters):
    bare = render(render_spec(), pipeline=loaded)
    with_a = render(
        render_spec(adapter=ref(adapters["a"])),
        pipeline=loaded,
        adapter_loader=loader_for(adapters["a"]),
    )

    assert with_a.adapter_sha256 == adapters["a"].sha256
    assert (pixels(with_a.png) != pixels(bare.png)).any()


@pytest.mark.parametrize("alpha", [None, 8], ids=["alpha=rank", "alpha=2*rank,folded"])
def test_an_adapter_reloaded_from_its_bytes_renders_the_pixels_it_was_trained_to(
    loaded, captures, alpha
):
    trained = train_lora(loaded, captures, train_spec(lora_alpha=alpha), keep_loaded=True)
    spec = render_spec(adapter=ref(trained))
    just_trained = render(spec, pipeline=loaded)  # the in-memory adapter, not reloaded
    loaded.adapters.clear()

    reloaded = render(spec, pipeline=loaded, adapter_loader=loader_for(trained))

    assert reloaded.png == just_trained.png


def test_without_folding_a_reloaded_adapter_loses_its_alpha(loaded, captures):
    trained = train_lora(loaded, captures, train_spec(lora_alpha=16), keep_loaded=True)
    spec = render_spec(adapter=ref(trained))
    just_trained = render(spec, pipeline=loaded)
    unet, name = loaded.pipe.unet, loaded.adapters.adapter_name(trained.sha256)
    unfolded = serialise_adapter(unet, name, rank=4, alpha=16, fold_alpha=False)
    loaded.adapters.clear()

    reloaded = render(
        render_spec(adapter=AdapterRef("raw", _sha(unfolded))),
        pipeline=loaded,
        adapter_loader=lambda _: unfolded,
    )

    assert reloaded.png != just_trained.png  # loaded at scale 1 instead of 16/4


def test_adapters_a_b_a_give_a_its_first_pixels(loaded, adapters):
    load = loader_for(adapters["a"], adapters["b"])
    bare = render(render_spec(), pipeline=loaded)

    first_a = render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded, adapter_loader=load)
    b = render(render_spec(adapter=ref(adapters["b"])), pipeline=loaded, adapter_loader=load)
    bare_again = render(render_spec(), pipeline=loaded)
    second_a = render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded, adapter_loader=load)

    assert second_a.png == first_a.png
    assert b.png != first_a.png
    assert bare_again.png == bare.png  # no adapter leaks into a request without one
    assert load.calls == [adapters["a"].sha256, adapters["b"].sha256]  # A stayed cached


def test_a_request_for_the_adapter_already_active_skips_the_walk_over_the_unet(
    loaded, adapters, monkeypatch
):
    load = loader_for(adapters["a"])
    first = render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded, adapter_loader=load)
    unet = loaded.pipe.unet
    calls = []
    monkeypatch.setattr(unet, "set_adapters", lambda *a, **k: calls.append(a))

    again = render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded, adapter_loader=load)

    assert calls == []  # nothing changed since A was activated: nothing to set
    assert again.png == first.png


@pytest.mark.parametrize(
    "meddle",
    [
        lambda unet, other: unet.set_adapters([other], [1.0]),
        lambda unet, other: unet.disable_lora(),
        lambda unet, other: unet.set_adapters([other, unet.active_adapters()[0]], [1.0, 0.5]),
    ],
    ids=["another adapter active", "adapters disabled", "scales changed"],
)
def test_an_adapter_changed_behind_the_cache_is_activated_again(loaded, adapters, meddle):
    load = loader_for(adapters["a"], adapters["b"])
    first_a = render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded, adapter_loader=load)
    render(render_spec(adapter=ref(adapters["b"])), pipeline=loaded, adapter_loader=load)
    render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded, adapter_loader=load)

    # The same adapters stay loaded: only the layers' own state tells that A is not active.
    meddle(loaded.pipe.unet, loaded.adapters.adapter_name(adapters["b"].sha256))
    again = render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded, adapter_loader=load)

    assert again.png == first_a.png


@pytest.mark.parametrize("keep_loaded", [False, True], ids=["discarded", "kept"])
def test_training_between_two_renders_of_an_adapter_leaves_its_pixels(
    loaded, adapters, captures, keep_loaded
):
    load = loader_for(adapters["a"])
    first = render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded, adapter_loader=load)

    train_lora(loaded, captures, train_spec(seed=9), keep_loaded=keep_loaded)
    again = render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded, adapter_loader=load)

    assert again.png == first.png


def test_the_least_recently_used_adapter_is_evicted(loaded, adapters):
    loaded.adapters.capacity = 2
    load = loader_for(*adapters.values())
    a, b, c = (ref(adapters[key]) for key in "abc")

    for adapter_ref in (a, b, a, c):  # A used after B, so B is the oldest when C arrives
        render(render_spec(adapter=adapter_ref), pipeline=loaded, adapter_loader=load)

    assert loaded.adapters.digests() == [a.sha256, c.sha256]
    assert len(adapters_in(loaded)) == 2  # B's layers are gone from the UNet
    render(render_spec(adapter=b), pipeline=loaded, adapter_loader=load)
    assert load.calls == [a.sha256, b.sha256, c.sha256, b.sha256]
    assert loaded.adapters.digests() == [c.sha256, b.sha256]


def test_adapter_bytes_that_do_not_match_their_digest_are_refused(loaded, adapters):
    forged = AdapterRef(name="a", sha256=adapters["a"].sha256)

    with pytest.raises(AdapterIntegrityError):
        render(
            render_spec(adapter=forged),
            pipeline=loaded,
            adapter_loader=lambda _: adapters["b"].adapter,
        )

    assert len(loaded.adapters) == 0 and not adapters_in(loaded)


def test_adapter_bytes_that_are_no_lora_are_refused_and_leave_nothing(loaded):
    junk = safetensors_save({"vae.encoder.weight": torch.zeros(2, 2)})

    with pytest.raises(AdapterError, match="cannot be loaded"):
        render(
            render_spec(adapter=AdapterRef("junk", _sha(junk))),
            pipeline=loaded,
            adapter_loader=lambda _: junk,
        )

    assert len(loaded.adapters) == 0 and not adapters_in(loaded)


def test_an_uncached_adapter_without_a_loader_is_an_error(loaded, adapters):
    with pytest.raises(AdapterError):
        render(render_spec(adapter=ref(adapters["a"])), pipeline=loaded)


def test_stopping_training_leaves_no_adapter_behind(loaded, captures):
    progress = []

    with pytest.raises(TrainingStopped) as stopped:
        train_lora(
            loaded,
            captures,
            train_spec(),
            progress=lambda s, t: progress.append(s),
            should_stop=lambda: len(progress) >= 2,
        )

    assert stopped.value.step == 2 and progress == [1, 2]
    assert not adapters_in(loaded)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
