"""The crop operation: read a box on a numbered image, map it to the stored original, cut, resize to budget.

Steps, all in the target image's view frame (the pixels the model saw) until the cut:

1. read ``bbox_2d`` in the configured convention (``auto``: see ``coords.resolve_convention``);
2. reject an inverted / zero-area box, clamp to the image, reject a box entirely outside it;
3. pad each side by ``padding`` of the image size and clamp again;
4. grow sides below ``min_side`` about the centre, shifted inside the image (``small_box: reject``: refuse a box
   with a side of ``min_side`` or less, as Pixel Reasoner's ``assert w > 28 and h > 28`` and DeepEyes do);
5. reject an aspect ratio above ``max_aspect_ratio``;
6. cut from the stored original (``crop_source: original``, via the registry's mapping) or from the model's
   copy (``model_view``), then resize to ``crop_max_pixels`` with the processor's ``smart_resize``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PIL import Image

from verl_pixel.ops.arguments import check_argument_names, read_box_values, read_whole_number, show
from verl_pixel.ops.budgets import check_image_room
from verl_pixel.ops.config import CROP_TOOL_NAME, CoordinateConvention, CropSource, SmallBox, VisualOpsConfig
from verl_pixel.ops.coords import (
    Box,
    clamp_box,
    grow_to_min_side,
    outer_pixel_box,
    pad_box,
    resolve_convention,
    to_view_pixels,
)
from verl_pixel.ops.registry import ImageKind, ImageRegistry, ImageView
from verl_pixel.ops.resize import RESAMPLE, fit_to_budget, to_rgb
from verl_pixel.ops.result import FailureReason, OperationError, OperationResult, run_guarded

CROP_USAGE = "Use crop_image(bbox_2d=[x1, y1, x2, y2], target_image=N)."
_REQUIRED = ("bbox_2d",)
# ``label`` is DeepEyes' optional free-text label; accepted and ignored so its checkpoints are not penalised.
_OPTIONAL = ("target_image", "label")


def box_range_hint(convention: CoordinateConvention, view: ImageView) -> str:
    """The allowed values of ``bbox_2d`` on ``view`` in ``convention``, for error messages."""
    width, height = view.view_size
    name = f"image {view.number}"
    if convention is CoordinateConvention.NORMALIZED:
        return f"bbox_2d is fractions of {name}: 0 <= x1 < x2 <= 1, 0 <= y1 < y2 <= 1."
    if convention is CoordinateConvention.RELATIVE1000:
        return f"bbox_2d is 0-1000 of {name}'s size: 0 <= x1 < x2 <= 1000, 0 <= y1 < y2 <= 1000."
    pixels = f"pixels of {name} as you see it: 0 <= x1 < x2 <= {width}, 0 <= y1 < y2 <= {height}"
    if convention is CoordinateConvention.PIXELS:
        return f"bbox_2d is {pixels}."
    return f"bbox_2d is fractions in [0, 1] or {pixels}."


def crop_image(registry: ImageRegistry, arguments: Any) -> OperationResult:
    """Crop a numbered image; never raises.

    Args:
        registry: the trajectory's images; a successful crop is numbered in it.
        arguments: the call's decoded ``arguments`` (``bbox_2d``, optional ``target_image``, default 1).

    Returns:
        The crop (one image within ``crop_max_pixels``), or a failure with a message naming the argument.
    """
    return run_guarded(CROP_TOOL_NAME, lambda: _crop(registry, arguments))


def _crop(registry: ImageRegistry, arguments: Any) -> OperationResult:
    config = registry.config
    check_argument_names(CROP_TOOL_NAME, arguments, _REQUIRED, _OPTIONAL, CROP_USAGE)
    _check_label(arguments)
    target = _read_target(registry, arguments)
    view = registry.view(target)
    hint = box_range_hint(config.coordinates, view)
    values = read_box_values("bbox_2d", arguments["bbox_2d"], hint)
    box = _prepare_box(values, view, config, f"bbox_2d {show(arguments['bbox_2d'])}", hint)
    check_image_room(registry, 1, "a crop")
    cut, region, size = _cut(registry, view, box)
    crop = to_rgb(cut)
    crop = crop if crop.size == size else crop.resize(size, RESAMPLE)
    number = registry.add_output(crop, ImageKind.CROP, view.source, region)
    return OperationResult(
        operation=CROP_TOOL_NAME,
        ok=True,
        images=(crop,),
        image_numbers=(number,),
        target_image=target,
        region=outer_pixel_box(region, registry.original_size(view.source)),
    )


def _check_label(arguments: Mapping[str, Any]) -> None:
    label = arguments.get("label")
    if label is not None and not isinstance(label, str):
        raise OperationError(FailureReason.BAD_TYPE, f"label must be a short text, got {show(label)}. {CROP_USAGE}")


def _read_target(registry: ImageRegistry, arguments: Mapping[str, Any]) -> int:
    if registry.num_images == 0:
        if registry.num_frames:
            message = "crop_image needs an image but the input is a video: call select_frames first, then crop one"
        else:
            message = "crop_image needs an image and this conversation has none"
        raise OperationError(FailureReason.WRONG_MODALITY, message)
    return read_whole_number("target_image", arguments.get("target_image", 1), 1, registry.num_images, "images so far")


def _prepare_box(
    values: tuple[float, float, float, float], view: ImageView, config: VisualOpsConfig, shown: str, hint: str
) -> Box:
    """Steps 1-5: the region to cut, in the view's pixels; ``shown`` names the box as the model wrote it."""
    convention = resolve_convention(values, config.coordinates)
    box = to_view_pixels(values, convention, view.view_size)
    if box.x1 >= box.x2 or box.y1 >= box.y2:
        raise OperationError(FailureReason.DEGENERATE_BOX, f"{shown} needs x1 < x2 and y1 < y2. {hint}")
    box = clamp_box(box, view.view_size)
    if box.width <= 0 or box.height <= 0:
        raise OperationError(FailureReason.DEGENERATE_BOX, f"{shown} lies outside image {view.number}. {hint}")
    box = clamp_box(pad_box(box, config.padding, view.view_size), view.view_size)
    if config.small_box is SmallBox.REJECT and min(box.width, box.height) <= config.min_side:
        raise OperationError(
            FailureReason.DEGENERATE_BOX,
            f"{shown} gives a {box.width:.0f}x{box.height:.0f} crop of image {view.number}: both sides must be "
            f"larger than {config.min_side} pixels. {hint}",
        )
    box = grow_to_min_side(box, config.min_side, view.view_size)
    if box.aspect_ratio > config.max_aspect_ratio:
        raise OperationError(
            FailureReason.BAD_ASPECT,
            f"{shown} is {box.width:.0f}x{box.height:.0f}: the long side may be at most "
            f"{config.max_aspect_ratio:g} times the short side. {hint}",
        )
    return box


def _cut(registry: ImageRegistry, view: ImageView, box: Box) -> tuple[Image.Image, Box, tuple[int, int]]:
    """Step 6: the cut pixels, the region of the original they show and the size the crop is shown at.

    The size is the processor's ``smart_resize`` of the cut region under ``crop_max_pixels``. A lazily decoded
    original may hand back the region at a lower resolution that still covers that size (JPEG draft decoding).
    """
    config = registry.config
    if config.crop_source is CropSource.ORIGINAL:
        pixel_box = outer_pixel_box(registry.to_original(view.number, box), registry.original_size(view.source))
        size = _crop_size(pixel_box, config)
        return registry.cut_original(view.source, pixel_box, size), Box(*(float(v) for v in pixel_box)), size
    pixels = registry.view_pixels(view.number)
    pixel_box = outer_pixel_box(box, pixels.size)
    region = registry.to_original(view.number, Box(*(float(value) for value in pixel_box)))
    return pixels.crop(pixel_box), region, _crop_size(pixel_box, config)


def _crop_size(pixel_box: tuple[int, int, int, int], config: VisualOpsConfig) -> tuple[int, int]:
    left, top, right, bottom = pixel_box
    try:
        return fit_to_budget((right - left, bottom - top), config.factor, config.min_pixels, config.crop_max_pixels)
    except ValueError as err:  # smart_resize's aspect check, reachable through rounding at the 200 limit
        raise OperationError(FailureReason.BAD_ASPECT, f"bbox_2d gives a region smart_resize refuses: {err}") from err
