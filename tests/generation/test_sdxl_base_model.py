"""A configured SDXL folder loads as an SDXL pipeline (from its model_index.json), renders
through the same path, and trains a likeness with SDXL's extra conditioning. The folder is
an SDXL-shaped model with random weights, made here; a real one is a setting away."""

import io
import shutil

import pytest
import torch
from PIL import Image

from generation import tiny
from generation.model_id import base_model_id, folder_fingerprint
from generation.pipeline import load_pipeline
from generation.render import render
from generation.spec import AdapterRef
from generation.train import train_lora
from tests.generation.helpers import render_spec, train_spec

# diffusers 0.42's Euler scheduler calls np.array(copy=False) on a tensor (numpy 2 warns).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def sdxl_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "tiny-sdxl"
    _tiny_sdxl().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def sdxl(sdxl_dir):
    return load_pipeline(sdxl_dir)


def test_an_sdxl_folder_loads_as_sdxl_and_renders(sdxl, sdxl_dir):
    result = render(render_spec(), pipeline=sdxl)

    assert type(sdxl.pipe).__name__ == "StableDiffusionXLPipeline"
    assert sdxl.base_model_id.startswith("tiny-sdxl-")
    assert sdxl.base_model_id == base_model_id(str(sdxl_dir))  # what the web process names
    assert Image.open(io.BytesIO(result.png)).size == (64, 64)
    assert render(render_spec(), pipeline=sdxl).png == result.png


def test_a_likeness_trains_on_sdxl_and_reloads_to_the_same_pixels(sdxl, captures):
    trained = train_lora(sdxl, captures, train_spec(steps=2), keep_loaded=True)
    spec = render_spec(adapter=AdapterRef("sdxl-likeness", trained.sha256))
    just_trained = render(spec, pipeline=sdxl)
    sdxl.adapters.clear()

    reloaded = render(spec, pipeline=sdxl, adapter_loader=lambda _: trained.adapter)

    assert reloaded.png == just_trained.png


def test_the_base_model_id_follows_the_weights(sdxl_dir, tmp_path):
    copy = tmp_path / "tiny-sdxl"
    shutil.copytree(sdxl_dir, copy)
    assert folder_fingerprint(copy) == folder_fingerprint(sdxl_dir)

    weights = copy / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))

    assert folder_fingerprint(copy) != folder_fingerprint(sdxl_dir)


def _tiny_sdxl():
    """diffusers' own SDXL test shapes: two 32-wide text encoders, cross-attention 64."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80,  # 6 size/crop ids x 8 + pooled 32
        cross_attention_dim=64,
    )
    text_config = tiny._text_encoder().config
    tokenizer = tiny._tokenizer()
    return StableDiffusionXLPipeline(
        vae=tiny._vae(),
        text_encoder=CLIPTextModel(text_config),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**text_config.to_dict())),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
        ),
    )
