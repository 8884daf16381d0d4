"""Shared images for the operation-layer tests (fixtures only: --import-mode=importlib cannot import conftest).

The reference trajectory: a stored original of 1000x600 (non-square) and the model's copy of it, made the way
qwen_vl_utils.fetch_image makes it, with patch 14 / merge 2 (factor 28) and max_pixels = 256*28*28 = 200704:

    600*1000 = 600000 > 200704  ->  beta = sqrt(600000 / 200704) = 1.72902
    height = floor(600 / 1.72902 / 28) * 28 = floor(12.39) * 28 = 336
    width  = floor(1000 / 1.72902 / 28) * 28 = floor(20.66) * 28 = 560

so the model sees 560x336, and one view pixel is 1000/560 = 600/336 = 1.7857 original pixels on both axes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from verl_pixel.ops import ImageRegistry, VisualOpsConfig

VIEW_MAX_PIXELS = 256 * 28 * 28


def _noise_image(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """An RGB image of random pixels, so any two different regions differ."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture(scope="session")
def noise_image() -> Callable[..., Image.Image]:
    return _noise_image


@pytest.fixture(scope="session")
def original() -> Image.Image:
    return _noise_image((1000, 600))


@pytest.fixture(scope="session")
def model_view(original: Image.Image) -> Image.Image:
    return original.resize((560, 336), Image.Resampling.BICUBIC)


@pytest.fixture(scope="session")
def video_frames() -> list[Image.Image]:
    """16 sampled frames of 224x168 (already multiples of 28, as fetch_video leaves them)."""
    return [_noise_image((224, 168), seed=index) for index in range(16)]


@pytest.fixture(scope="session")
def view_config() -> Callable[..., VisualOpsConfig]:
    """The reference config (model-view budget 256*28*28), other fields default unless overridden."""

    def build(**overrides: object) -> VisualOpsConfig:
        return VisualOpsConfig(**{"image_max_pixels": VIEW_MAX_PIXELS, **overrides})

    return build


@pytest.fixture
def make_registry(
    original: Image.Image, model_view: Image.Image, view_config: Callable[..., VisualOpsConfig]
) -> Callable[..., ImageRegistry]:
    """A fresh registry over the reference image pair, with config overrides."""

    def build(**overrides: object) -> ImageRegistry:
        return ImageRegistry.from_inputs(view_config(**overrides), [model_view], [original])

    return build
