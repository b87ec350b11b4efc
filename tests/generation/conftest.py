"""Shared fixtures for the generation tests: one tiny pipeline per session, built in a
temporary folder, on one CPU thread.

These tests never touch the database; they only need torch, diffusers and peft. One
thread: the renders here are 64 px and take the same ~40 ms on one thread as on two, and
the machine's cores are shared with the rest of the suite.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from generation.pipeline import LoadedPipeline, load_pipeline


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models") / "tiny-sd"


@pytest.fixture(scope="session")
def loaded(tiny_dir) -> LoadedPipeline:
    return load_pipeline(None, tiny_dir)


@pytest.fixture(autouse=True)
def no_adapters_left(request):
    """Each test starts and ends with no adapter in the shared pipeline's UNet."""
    yield
    if "loaded" in request.fixturenames:
        pipeline = request.getfixturevalue("loaded")
        pipeline.adapters.clear()
        pipeline.adapters.capacity = 4
        assert not getattr(pipeline.pipe.unet, "peft_config", None), "an adapter leaked"


@pytest.fixture(scope="session")
def captures() -> list[Image.Image]:
    """Three synthetic 'photos' of different sizes and aspect ratios."""
    rng = np.random.default_rng(7)
    shapes = [(96, 80), (64, 64), (120, 90)]
    return [Image.fromarray(rng.integers(0, 256, (*s, 3), dtype=np.uint8)) for s in shapes]
