"""The base model's id is known without torch: the web process names the model a `train`
consent covers, and the worker reports the same id for the pipeline it loads."""

import json
import subprocess
import sys

import pytest

from generation.model_id import (
    BaseModelIdError,
    base_model_id,
    base_model_kind,
    folder_fingerprint,
)


def test_model_id_imports_no_machine_learning_library():
    script = (
        "import sys, generation.model_id as m; m.base_model_id(None); "
        "print([n for n in ('torch', 'diffusers', 'transformers', 'peft') if n in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_tiny_pipeline_is_named_by_its_recipe_before_it_is_built(tmp_path):
    assert base_model_id(None) == base_model_id("") == "tiny-sd-v1"
    assert base_model_kind(None) == "tiny"
    marker = {"version": "tiny-sd-v1", "seed": 20240601, "weights": "ab" * 32}
    (tmp_path / "rightsdesk_tiny.json").write_text(json.dumps(marker))

    assert base_model_id(tmp_path) == "tiny-sd-v1"  # a built tiny folder named by path
    marker["seed"] = 7
    (tmp_path / "rightsdesk_tiny.json").write_text(json.dumps(marker))
    assert base_model_id(tmp_path) == "tiny-sd-v1-s7"  # another seed, other weights


def test_a_configured_folder_is_named_by_its_fingerprint(tmp_path):
    folder = tmp_path / "my-sd15"
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 4096)

    assert base_model_id(folder) == folder_fingerprint(folder)
    assert base_model_id(folder).startswith("my-sd15-")
    assert base_model_kind(folder) == "folder"


def test_a_missing_or_empty_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(BaseModelIdError, match=str(tmp_path / "absent")):
        base_model_id(tmp_path / "absent")
    with pytest.raises(BaseModelIdError, match="model_index.json"):
        base_model_id(tmp_path)
