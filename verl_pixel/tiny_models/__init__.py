"""Config-built tiny models with random weights: the quick start's and the CPU smoke runs' default model.

One kit per model family (``qwen2_5_vl``: :mod:`.qwen2_5_vl`, ``qwen3_vl``: :mod:`.qwen3_vl`): the real architecture,
an offline byte-level BPE tokenizer with the family's special tokens in its id order, a processor that builds
without torchvision, and the family's chat template, saved as an ordinary Hugging Face folder. They stand in for a
downloaded checkpoint where none can be fetched; the tests use them too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from verl_pixel.model_family import ModelFamily, family_spec
from verl_pixel.tiny_models.qwen2_5_vl import TinyQwen25VLSpec, build_tiny_qwen25vl, cached_tiny_qwen25vl
from verl_pixel.tiny_models.qwen3_vl import TinyQwen3VLSpec, build_tiny_qwen3vl, cached_tiny_qwen3vl

_BUILDERS: dict[ModelFamily, Callable[[str | os.PathLike], Path]] = {
    ModelFamily.QWEN2_5_VL: build_tiny_qwen25vl,
    ModelFamily.QWEN3_VL: build_tiny_qwen3vl,
}
_CACHED: dict[ModelFamily, Callable[[str | os.PathLike | None], Path]] = {
    ModelFamily.QWEN2_5_VL: cached_tiny_qwen25vl,
    ModelFamily.QWEN3_VL: cached_tiny_qwen3vl,
}


def build_tiny_model(out_dir: str | os.PathLike, family: str | ModelFamily = ModelFamily.QWEN2_5_VL) -> Path:
    """Build the tiny model of ``family`` into ``out_dir`` (default sizes); returns the folder.

    Raises:
        ValueError: for an unknown family name.
    """
    return _BUILDERS[family_spec(family).family](out_dir)


def cached_tiny_model(
    family: str | ModelFamily = ModelFamily.QWEN2_5_VL, cache_dir: str | os.PathLike | None = None
) -> Path:
    """The tiny model of ``family``, built once under ``cache_dir`` (default ``$VERL_PIXEL_CACHE``)."""
    return _CACHED[family_spec(family).family](cache_dir)


_DIRNAMES = {ModelFamily.QWEN2_5_VL: "tiny-qwen25vl", ModelFamily.QWEN3_VL: "tiny-qwen3vl"}


def tiny_model_dirname(family: str | ModelFamily) -> str:
    """The folder name the CPU runners build a family's tiny model under (``tiny-qwen25vl``, ``tiny-qwen3vl``)."""
    return _DIRNAMES[family_spec(family).family]


__all__ = [
    "TinyQwen3VLSpec",
    "TinyQwen25VLSpec",
    "build_tiny_model",
    "build_tiny_qwen3vl",
    "build_tiny_qwen25vl",
    "cached_tiny_model",
    "cached_tiny_qwen3vl",
    "cached_tiny_qwen25vl",
    "tiny_model_dirname",
]
