"""Resizing to a pixel budget with the model processor's own rule.

The rule is transformers' ``smart_resize`` (the function the Qwen2-VL / Qwen2.5-VL / Qwen3-VL image processors
call), imported rather than re-written so a crop comes out exactly the size the processor would make it.
The PIL-backend module is tried first because the torchvision-backend module imports torchvision at import time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image

# The Qwen processors and qwen_vl_utils.fetch_image resize with bicubic interpolation.
RESAMPLE = Image.Resampling.BICUBIC


@functools.cache
def _smart_resize() -> Callable[..., tuple[int, int]]:
    """The processor rule, transformers' smart_resize, imported on first use (its module imports torch)."""
    try:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    except ImportError:  # older transformers without the PIL backend module
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize
    return smart_resize


def fit_to_budget(size: tuple[int, int], factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Size an image of ``size`` gets from the processor under a pixel budget.

    Args:
        size: (width, height) in pixels, both >= 1.
        factor: patch factor; both output sides are multiples of it.
        min_pixels: lower pixel bound.
        max_pixels: upper pixel bound.

    Returns:
        (width, height) after ``smart_resize``.

    Raises:
        ValueError: if the aspect ratio exceeds 200 (smart_resize's own check).
    """
    width, height = size
    new_height, new_width = _smart_resize()(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    return int(new_width), int(new_height)


def resize_to_budget(image: Image.Image, factor: int, min_pixels: int, max_pixels: int) -> Image.Image:
    """Resize ``image`` the way the processor would (no copy when the size is already right).

    Raises:
        ValueError: if the aspect ratio exceeds 200.
    """
    target = fit_to_budget(image.size, factor, min_pixels, max_pixels)
    if target == image.size:
        return image
    return image.resize(target, RESAMPLE)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert to RGB; transparent pixels become white, as qwen_vl_utils' ``to_rgb`` does for the model's copy."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.split()[3])
        return background
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit / float images have no direct RGB conversion: stretch to 8 bit first.
        values = np.asarray(image, dtype=np.float64)
        peak = float(values.max()) if values.size else 0.0
        scaled = values * (255.0 / peak) if peak > 0 else values
        return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), mode="L").convert("RGB")
    return image.convert("RGB")
