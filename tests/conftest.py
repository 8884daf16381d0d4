"""Shared fixtures: the offline environment, the tiny Qwen2.5-VL folder, its processor and tokenizer."""

from __future__ import annotations

import os

# Before anything imports verl: select verl-pixel's CPU platform and keep every library offline.
os.environ.setdefault("VERL_PLATFORM", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2.5-VL folder, built once per session (or reused from $VERL_PIXEL_CACHE)."""
    from verl_pixel.tiny_models import cached_tiny_qwen25vl

    cache = os.environ.get("VERL_PIXEL_CACHE") or tmp_path_factory.mktemp("tiny_cache")
    return cached_tiny_qwen25vl(cache)


@pytest.fixture(scope="session")
def tiny_processor(tiny_model_dir: Path):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_dir, trust_remote_code=True)
    assert processor is not None
    return processor


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_processor):
    return tiny_processor.tokenizer
