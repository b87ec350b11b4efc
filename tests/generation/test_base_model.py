"""A configured base model that is missing or broken is a clear error naming its folder,
and nothing is fetched from a hub."""

import json

import pytest

from generation.pipeline import BaseModelError, load_pipeline


def test_a_missing_base_model_folder_is_named_in_the_error(tmp_path):
    folder = tmp_path / "no-such-model"

    with pytest.raises(BaseModelError, match=str(folder)):
        load_pipeline(folder)


def test_a_folder_without_model_index_is_named_in_the_error(tmp_path):
    with pytest.raises(BaseModelError, match=f"{tmp_path}.*model_index.json"):
        load_pipeline(tmp_path)


def test_an_unreadable_model_index_is_named_in_the_error(tmp_path):
    (tmp_path / "model_index.json").write_text("{not json")

    with pytest.raises(BaseModelError, match=str(tmp_path)):
        load_pipeline(tmp_path)


def test_a_folder_with_missing_weights_is_named_in_the_error(tmp_path, tiny_dir, loaded):
    index = json.loads((tiny_dir / "model_index.json").read_text())
    (tmp_path / "model_index.json").write_text(json.dumps(index))  # components absent

    with pytest.raises(BaseModelError, match=f"{tmp_path} cannot be loaded"):
        load_pipeline(tmp_path)


def test_a_base_model_folder_loads_with_its_own_pipeline_class(tiny_dir):
    # The tiny folder stands in for a local SD 1.5 copy: loaded by path, as one would be.
    loaded = load_pipeline(tiny_dir)

    assert type(loaded.pipe).__name__ == "StableDiffusionPipeline"
    assert loaded.pipe.safety_checker is None
