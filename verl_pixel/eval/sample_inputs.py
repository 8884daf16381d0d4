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
from verl_pixel.data.videos import load_video, video_source
from verl_pixel.ops import VisualOpsConfig, fit_to_budget, resize_to_budget
from verl_pixel.ops.frames import frames_from_array
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
    """Decode a row's images (a video's frames as images) and build its prompt (I/O: decoding).

    A ``<video>`` (at most one) becomes its sampled frames as image items, sent at the video entry's
    ``max_pixels`` (else the config's ``frame_max_pixels``): an OpenAI-compatible server takes images, and those
    frames are then also the video of ``select_frames`` and do not count against ``max_images``.

    Raises:
        RowError: naming the row key and the field, for a missing field or an undecodable image or video.
    """
    key = row_key(row)
    extra = to_plain(row.get("extra_info")) or {}
    media = _RowMedia(key, config)
    prompt = to_plain(row.get("prompt"))
    if not isinstance(prompt, list) or not prompt:
        raise RowError(f"row {key}: field 'prompt': expected a list of messages, got {type(prompt).__name__}")
    refs, videos = list(to_plain(row.get("images")) or []), list(to_plain(row.get("videos")) or [])
    try:
        messages = expand_placeholders(prompt, refs, videos, media.image, video_items=media.video)
    except IndexError as err:
        raise RowError(f"row {key}: field 'prompt' has more placeholders than 'images' / 'videos' entries") from err
    views = [
        resize_to_budget(image, config.factor, config.min_pixels, b)
        for image, b in zip(media.originals, media.budgets, strict=True)
    ]
    tokens = sum(visual_tokens(image.size, config, b) for image, b in zip(media.originals, media.budgets, strict=True))
    reward_model = to_plain(row.get("reward_model")) or {}
    return PreparedSample(
        key=key,
        benchmark=str(row["data_source"]),
        sample_id=str(extra["sample_id"]),
        category=str(extra.get("category") or ""),
        ground_truth=reward_model.get("ground_truth") if isinstance(reward_model, Mapping) else None,
        messages=messages,
        originals=media.originals,
        views=views,
        num_video_frames=media.video_frames or int(extra.get(NUM_VIDEO_FRAMES_FIELD) or 0),
        input_visual_tokens=tokens,
        need_label=None if extra.get(NEED_LABEL_FIELD) is None else bool(extra[NEED_LABEL_FIELD]),
    )


class _RowMedia:
    """The decoded images of one row, in prompt order, with their pixel budgets."""

    def __init__(self, key: str, config: VisualOpsConfig) -> None:
        self.key, self.config = key, config
        self.originals: list[Image.Image] = []
        self.budgets: list[int] = []
        self.video_frames = 0

    def image(self, ref: Any, field: str) -> int:
        try:
            self.originals.append(load_image(ref))
        except ValueError as err:
            raise RowError(f"row {self.key}: field {field}: {err}") from err
        budget = ref.get("max_pixels") if isinstance(ref, Mapping) else None
        self.budgets.append(int(budget) if budget else self.config.image_max_pixels)
        return len(self.originals) - 1

    def video(self, entry: Any, field: str) -> list[dict[str, Any]]:
        """A video's frames as image items: a list's frames decoded whole, a file's frames sampled (one video)."""
        if self.video_frames or self.originals:
            raise RowError(f"row {self.key}: field {field}: a question takes one video and no other image here")
        try:
            reference = video_source(entry)
            if isinstance(reference, list):
                frames = [load_image(ref) for ref in reference]
            else:
                frames = frames_from_array(load_video(entry).frames)
        except ValueError as err:
            raise RowError(f"row {self.key}: field {field}: {err}") from err
        budget = entry.get("max_pixels") if isinstance(entry, Mapping) else None
        self.originals += frames
        self.budgets += [int(budget or self.config.frame_max_pixels)] * len(frames)
        self.video_frames = len(frames)
        return [{"type": "image", "image": index} for index in range(len(frames))]
