"""Shared fixtures: the offline environment, the tiny model folders, their processors and tokenizers.

``tiny_model_dir`` / ``tiny_processor`` / ``tiny_tokenizer`` are the Qwen2.5-VL kit (the default family).
Tests of a behaviour every family shares take ``family_model_dir`` / ``family_processor`` / ``family_tokenizer``
instead: they run once per family (the ``family`` fixture's parameters).
"""

from __future__ import annotations

import os

# Before anything imports verl: select verl-pixel's CPU platform and keep every library offline.
os.environ.setdefault("VERL_PLATFORM", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

from collections.abc import Callable
from pathlib import Path

import pytest

FAMILIES = ("qwen2_5_vl", "qwen3_vl")


@pytest.fixture(scope="session")
def tiny_model_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``tiny_model_of(family)``: the family's tiny model folder, built once (or reused from $VERL_PIXEL_CACHE)."""
    from verl_pixel.tiny_models import cached_tiny_model

    cache = os.environ.get("VERL_PIXEL_CACHE") or tmp_path_factory.mktemp("tiny_cache")
    return lambda family: cached_tiny_model(family, cache)


@pytest.fixture(scope="session")
def processor_of(tiny_model_of) -> Callable[[str], object]:
    """``processor_of(family)``: the family's tiny processor, loaded once."""
    from transformers import AutoProcessor

    loaded: dict[str, object] = {}

    def load(family: str):
        if family not in loaded:
            loaded[family] = AutoProcessor.from_pretrained(tiny_model_of(family), trust_remote_code=True)
            assert loaded[family] is not None
        return loaded[family]

    return load


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model_of) -> Path:
    """The tiny Qwen2.5-VL folder."""
    return tiny_model_of("qwen2_5_vl")


@pytest.fixture(scope="session")
def tiny_processor(processor_of):
    return processor_of("qwen2_5_vl")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_processor):
    return tiny_processor.tokenizer


@pytest.fixture(scope="session", params=FAMILIES)
def family(request) -> str:
    """Each supported model family in turn."""
    return request.param


@pytest.fixture(scope="session")
def family_model_dir(family, tiny_model_of) -> Path:
    return tiny_model_of(family)


@pytest.fixture(scope="session")
def family_processor(family, processor_of):
    return processor_of(family)


@pytest.fixture(scope="session")
def family_tokenizer(family_processor):
    return family_processor.tokenizer
