"""One parquet row made ready for the endpoint runner: decoded originals, the model's views, visual-token counts.

The runner sends each image at the size the model's processor would give it (``smart_resize`` under the row's
or the config's pixel budget), so the server does not resize it again and ``pixels`` coordinates refer to exactly
what the model saw; crops are cut from the decoded originals, as in the ``pixel_agent`` tools.

Visual tokens follow the Qwen rule: an image of ``w x h`` pixels after ``smart_resize`` costs
``(w / factor) * (h / factor)`` tokens (factor 28 for Qwen2.5-VL: 14-px patches merged 2x2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from PIL import Image

from verl_pixel.constants import NEED_LABEL_FIELD, NUM_VIDEO_FRAMES_FIELD
from verl_pixel.data.images import load_image
from verl_pixel.data.message_content import expand_placeholders
from verl_pixel.ops import VisualOpsConfig, fit_to_budget, resize_to_budget
from verl_pixel.plain_values import to_plain


class RowError(ValueError):
    """A parquet row lacks a field the runner needs; the message names the row and the field."""


def visual_tokens(size: tuple[int, int], config: VisualOpsConfig, max_pixels: int) -> int:
    """Visual tokens of an image of ``size`` under ``max_pixels``: ``(h/f) * (w/f)`` after ``smart_resize``."""
    width, height = fit_to_budget(size, config.factor, config.min_pixels, max_pixels)
    return (width // config.factor) * (height // config.factor)


@dataclasses.dataclass(frozen=True)
class PreparedSample:
    """What the runner needs of one row.

    Attributes:
        key: ``<benchmark>/<sample_id>``, unique across benchmarks (the resume key).
        benchmark: the row's ``data_source``.
        sample_id: ``extra_info.sample_id``.
        category: ``extra_info.category`` ("" if none).
        ground_truth: ``reward_model.ground_truth`` as plain data.
        messages: the prompt with content lists; image items hold ``{"type": "image", "image": <index>}``.
        originals: decoded images in prompt order.
        views: the same images resized to the model's budget (what is sent).
        num_video_frames: how many images are sampled video frames (then also the frames of ``select_frames``).
        input_visual_tokens: visual tokens of the views.
        need_label: ``extra_info.needs_zoom`` (None when the row has none).
    """

    key: str
    benchmark: str
    sample_id: str
    category: str
    ground_truth: Any
    messages: list[dict[str, Any]]
    originals: list[Image.Image]
    views: list[Image.Image]
    num_video_frames: int
    input_visual_tokens: int
    need_label: bool | None = None


def row_key(row: Mapping[str, Any]) -> str:
    """The resume key of a raw parquet row (no image decoding).

    Raises:
        RowError: if the row has no ``data_source`` or ``extra_info.sample_id``.
    """
    extra = to_plain(row.get("extra_info")) or {}
    sample_id = extra.get("sample_id") if isinstance(extra, Mapping) else None
    source = row.get("data_source")
    if sample_id in (None, "") or source in (None, ""):
        raise RowError(f"row needs data_source and extra_info.sample_id (got {source!r}, {sample_id!r})")
    return f"{source}/{sample_id}"


def prepare_sample(row: Mapping[str, Any], config: VisualOpsConfig) -> PreparedSample:
    """Decode a row's images and build its prompt (I/O: image decoding).

    Raises:
        RowError: naming the row key and the field, for a missing field or an undecodable image.
    """
    key = row_key(row)
    extra = to_plain(row.get("extra_info")) or {}
    refs = list(to_plain(row.get("images")) or [])
    originals: list[Image.Image] = []
    budgets: list[int] = []

    def decode(ref: Any, field: str) -> int:
        try:
            originals.append(load_image(ref))
        except ValueError as err:
            raise RowError(f"row {key}: field {field}: {err}") from err
        budget = ref.get("max_pixels") if isinstance(ref, Mapping) else None
        budgets.append(int(budget) if budget else config.image_max_pixels)
        return len(originals) - 1

    prompt = to_plain(row.get("prompt"))
    if not isinstance(prompt, list) or not prompt:
        raise RowError(f"row {key}: field 'prompt': expected a list of messages, got {type(prompt).__name__}")
    try:
        messages = expand_placeholders(prompt, refs, [], decode)
    except IndexError as err:
        raise RowError(f"row {key}: field 'prompt' has more <image> placeholders than 'images' entries") from err
    views = [
        resize_to_budget(image, config.factor, config.min_pixels, b)
        for image, b in zip(originals, budgets, strict=True)
    ]
    tokens = sum(visual_tokens(image.size, config, b) for image, b in zip(originals, budgets, strict=True))
    reward_model = to_plain(row.get("reward_model")) or {}
    return PreparedSample(
        key=key,
        benchmark=str(row["data_source"]),
        sample_id=str(extra["sample_id"]),
        category=str(extra.get("category") or ""),
        ground_truth=reward_model.get("ground_truth") if isinstance(reward_model, Mapping) else None,
        messages=messages,
        originals=originals,
        views=views,
        num_video_frames=int(extra.get(NUM_VIDEO_FRAMES_FIELD) or 0),
        input_visual_tokens=tokens,
        need_label=None if extra.get(NEED_LABEL_FIELD) is None else bool(extra[NEED_LABEL_FIELD]),
    )
