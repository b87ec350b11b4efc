"""The tiny pipeline is built offline, deterministically, once per cache folder, and keeps
Stable Diffusion's shape (DESIGN.md, "Generation")."""

import json
from concurrent.futures import ThreadPoolExecutor

from generation import model_id, tiny
from generation.pipeline import load_pipeline


def test_two_builds_with_one_seed_have_identical_weights():
    first = tiny.weights_hash(tiny.build_tiny_pipeline(seed=5))
    second = tiny.weights_hash(tiny.build_tiny_pipeline(seed=5))
    other_seed = tiny.weights_hash(tiny.build_tiny_pipeline(seed=6))

    assert first == second
    assert other_seed != first


def test_cached_folder_loads_the_weights_it_was_built_with(loaded, tiny_dir):
    marker = json.loads((tiny_dir / tiny.MARKER_FILE).read_text())
    # A fresh load: the shared pipeline's UNet carries LoRA wrappers once adapters came by.
    reloaded = load_pipeline(None, tiny_dir)

    assert tiny.weights_hash(reloaded.pipe) == marker["weights"]
    assert tiny.weights_hash(tiny.build_tiny_pipeline()) == marker["weights"]
    # The recipe's id, which the web process knows without building or loading anything.
    assert loaded.base_model_id == "tiny-sd-v1" == model_id.base_model_id(None)


def test_a_built_folder_is_reused_not_rebuilt(loaded, tiny_dir):
    weights = tiny_dir / "unet" / "diffusion_pytorch_model.safetensors"
    before = weights.stat().st_mtime_ns

    assert tiny.ensure_tiny_pipeline(tiny_dir) == tiny_dir
    assert weights.stat().st_mtime_ns == before


def test_tiny_pipeline_keeps_stable_diffusion_proportions(loaded):
    pipe = loaded.pipe
    vae_downsampling = 2 ** (len(pipe.vae.config.block_out_channels) - 1)

    assert vae_downsampling == 8  # as SD; diffusers' 2x test VAE makes renders ~20x slower
    assert tuple(pipe.unet.config.block_out_channels) == (32, 64)
    assert pipe.unet.config.layers_per_block == 2
    assert pipe.unet.config.cross_attention_dim == 32
    assert pipe.text_encoder.config.hidden_size == 32
    assert loaded.device.type == "cpu" and str(loaded.dtype) == "torch.float32"


def test_byte_level_tokenizer_encodes_any_text_without_unknown_tokens(tiny_dir):
    from transformers import CLIPTokenizer

    folder = tiny_dir / "tokenizer"
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    ids = tokenizer("Café ☃ rdtwin").input_ids

    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.unk_token_id not in ids[1:-1]  # unk is <|endoftext|>, as in CLIP
    assert len(ids) == len("café ☃ rdtwin".replace(" ", "").encode()) + 2  # one per byte


def test_workers_starting_together_build_the_pipeline_once(tmp_path, monkeypatch):
    built = []
    real_build = tiny.build_tiny_pipeline

    def counting_build(**kwargs):
        built.append(1)
        return real_build(**kwargs)

    monkeypatch.setattr(tiny, "build_tiny_pipeline", counting_build)
    folder = tmp_path / "tiny-sd"
    with ThreadPoolExecutor(max_workers=3) as pool:
        folders = list(pool.map(lambda _: tiny.ensure_tiny_pipeline(folder), range(3)))

    assert folders == [folder] * 3
    assert built == [1]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tiny-sd", "tiny-sd.lock"]
