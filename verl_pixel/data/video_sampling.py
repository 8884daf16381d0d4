"""Which frames of a video the model sees, and at what size: qwen_vl_utils' rules, written once (pure).

verl decodes video items with ``qwen_vl_utils.fetch_video`` (``verl/utils/dataset/vision_utils.py:process_video``
and ``RLHFDataset._process_multi_modal_info``), which imports torchvision at module level; the project's decoder
(:mod:`verl_pixel.data.videos`) applies the same rules without it, so a row gives the model the same frames, the
same frame size and the same metadata either way. Source: ``qwen_vl_utils/vision_process.py`` 0.0.14 (the version
verl 0.9.1 installs), functions ``smart_nframes``, ``calculate_video_frame_range``, ``smart_resize``,
``fetch_image`` and ``fetch_video``.

A video item (a content item ``{"type": "video", "video": ..., **keys}``; verl's ``RLHFDataset._build_messages``
copies a ``videos`` entry's keys into it) may carry:

* ``nframes``, or ``fps`` with ``min_frames`` / ``max_frames``: how many frames of a video *file* are sampled
  (default 2 fps, 4 to 768 frames, an even count); a list of frames is used whole (padded to an even count);
* ``video_start`` / ``video_end``: seconds of a file to sample from;
* ``min_pixels`` / ``max_pixels`` / ``total_pixels``: each frame's pixel budget (default 128 to 768 tokens a
  frame, and the whole video within ``total_pixels``);
* ``resized_height`` / ``resized_width``: a fixed frame size (rounded to the patch factor);
* ``sample_fps`` / ``raw_fps``: the frame rate recorded for a list of frames (default 2.0).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

from verl_pixel.ops.config import QWEN2_5_VL_FACTOR, VIDEO_FRAME_MAX_TOKENS

# qwen_vl_utils.vision_process constants (0.0.14).
SPATIAL_MERGE_SIZE = 2
IMAGE_MIN_TOKEN_NUM = 4
IMAGE_MAX_TOKEN_NUM = 16384
VIDEO_MIN_TOKEN_NUM = 128
VIDEO_MAX_TOKEN_NUM = 768
FPS = 2.0
FRAME_FACTOR = 2
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768
MAX_RATIO = 200
# qwen_vl_utils reads MODEL_SEQ_LEN from the environment at import; the default whole-video budget follows it.
MODEL_SEQ_LEN_ENV = "MODEL_SEQ_LEN"
DEFAULT_MODEL_SEQ_LEN = 128000
TOTAL_PIXELS_SHARE = 0.9
MAX_PIXELS_FLOOR_MARGIN = 1.05
LIST_SAMPLE_FPS = 2.0  # the frame rate qwen_vl_utils records for a list of frames without ``sample_fps``


@dataclasses.dataclass(frozen=True)
class VideoBudget:
    """The per-frame pixel bounds the data writers put on a row's ``videos`` entry (``None``: qwen_vl_utils').

    Attributes:
        max_pixels: largest frame (default Pixel Reasoner's 512 tokens of 28x28 px, ``VIDEO_FRAME_MAX_TOKENS``).
        min_pixels: smallest frame (default qwen_vl_utils' 128 tokens).
    """

    max_pixels: int | None = VIDEO_FRAME_MAX_TOKENS * QWEN2_5_VL_FACTOR**2
    min_pixels: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_pixels", "min_pixels"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}: expected a pixel count >= 1 or None, got {value!r}")

    def entry(self, reference: Any) -> dict[str, Any]:
        """The ``videos`` entry of a video file path or list of frames, carrying these bounds."""
        bounds = {"max_pixels": self.max_pixels, "min_pixels": self.min_pixels}
        return {"video": reference, **{key: value for key, value in bounds.items() if value is not None}}


_INT_KEYS = ("nframes", "min_frames", "max_frames", "resized_height", "resized_width")
_FLOAT_KEYS = ("fps", "video_start", "video_end", "min_pixels", "max_pixels", "total_pixels", "sample_fps", "raw_fps")


def round_by_factor(number: float, factor: int) -> int:
    """The closest multiple of ``factor``."""
    return round(number / factor) * factor


def ceil_by_factor(number: float, factor: int) -> int:
    """The smallest multiple of ``factor`` >= ``number``."""
    return math.ceil(number / factor) * factor


def floor_by_factor(number: float, factor: int) -> int:
    """The largest multiple of ``factor`` <= ``number``."""
    return math.floor(number / factor) * factor


def qwen_smart_resize(height: int, width: int, factor: int, min_pixels: float, max_pixels: float) -> tuple[int, int]:
    """qwen_vl_utils' ``smart_resize``: ``(height, width)`` as multiples of ``factor`` within the pixel bounds.

    It differs from transformers' ``Qwen2VLImageProcessor`` rule only for sides below ``factor / 2`` (qwen_vl_utils
    rounds them up to ``factor`` first), which is why video frames use this copy.

    Raises:
        ValueError: if the aspect ratio exceeds 200.
    """
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_RATIO}, got {ratio}")
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


@dataclasses.dataclass(frozen=True)
class VideoSampling:
    """The sampling and sizing keys of one video item (module docstring); ``None`` means qwen_vl_utils' default."""

    nframes: int | None = None
    fps: float | None = None
    min_frames: int | None = None
    max_frames: int | None = None
    video_start: float | None = None
    video_end: float | None = None
    min_pixels: float | None = None
    max_pixels: float | None = None
    total_pixels: float | None = None
    resized_height: int | None = None
    resized_width: int | None = None
    sample_fps: float | None = None
    raw_fps: float | None = None

    def __post_init__(self) -> None:
        if self.nframes is not None and self.fps is not None:
            raise ValueError("a video item takes either 'nframes' or 'fps', not both")
        if (self.resized_height is None) != (self.resized_width is None):
            raise ValueError("'resized_height' and 'resized_width' go together")

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> VideoSampling:
        """Read the keys of a video content item (or ``videos`` entry); other keys are ignored.

        Raises:
            ValueError: naming the key, for a value that is not a positive number.
        """
        values: dict[str, Any] = {}
        for key in (*_INT_KEYS, *_FLOAT_KEYS):
            value = item.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"'{key}' must be a number >= 0, got {value!r}")
            values[key] = int(value) if key in _INT_KEYS else float(value)
        return cls(**values)


def smart_nframes(sampling: VideoSampling, total_frames: int, video_fps: float) -> int:
    """How many frames to sample from a file of ``total_frames`` at ``video_fps`` (qwen_vl_utils ``smart_nframes``).

    Raises:
        ValueError: if the count falls outside ``[2, total_frames]`` (e.g. ``nframes`` above the frame count).
    """
    if sampling.nframes is not None:
        nframes = round_by_factor(sampling.nframes, FRAME_FACTOR)
    else:
        fps = sampling.fps if sampling.fps is not None else FPS
        min_frames = sampling.min_frames if sampling.min_frames is not None else FPS_MIN_FRAMES
        max_frames = sampling.max_frames if sampling.max_frames is not None else min(FPS_MAX_FRAMES, total_frames)
        min_frames, max_frames = ceil_by_factor(min_frames, FRAME_FACTOR), floor_by_factor(max_frames, FRAME_FACTOR)
        wanted = total_frames / video_fps * fps
        nframes = floor_by_factor(min(min(max(wanted, min_frames), max_frames), total_frames), FRAME_FACTOR)
    if not FRAME_FACTOR <= nframes <= total_frames:
        raise ValueError(f"nframes should in interval [{FRAME_FACTOR}, {total_frames}], but got {nframes}.")
    return nframes


def frame_range(sampling: VideoSampling, total_frames: int, video_fps: float) -> tuple[int, int, int]:
    """``(first, last, count)`` frame indices of the clip (qwen_vl_utils ``calculate_video_frame_range``).

    Raises:
        ValueError: for a non-positive fps or frame count, or a clip whose start is not before its end.
    """
    if video_fps <= 0:
        raise ValueError("video_fps must be a positive number")
    if total_frames <= 0:
        raise ValueError("total_frames must be a positive integer")
    if sampling.video_start is None and sampling.video_end is None:
        return 0, total_frames - 1, total_frames
    duration = total_frames / video_fps
    start = 0 if sampling.video_start is None else math.ceil(max(0.0, min(sampling.video_start, duration)) * video_fps)
    end = total_frames - 1
    if sampling.video_end is not None:
        end = min(math.floor(max(0.0, min(sampling.video_end, duration)) * video_fps), total_frames - 1)
    if start >= end:
        raise ValueError(f"invalid time range: start frame {start} is not before end frame {end} ({duration:.2f} s)")
    return start, end, end - start + 1


def sampled_indices(first: int, last: int, nframes: int) -> list[int]:
    """The frame indices qwen_vl_utils' file readers take: ``torch.linspace(first, last, nframes).round()``.

    torch itself computes them (float32 linspace, round half to even), so ties fall exactly as upstream.
    """
    import torch

    return [int(index) for index in torch.linspace(first, last, nframes).round().long().tolist()]


def list_frame_size(height: int, width: int, sampling: VideoSampling, image_patch_size: int) -> tuple[int, int]:
    """The size ``fetch_image`` gives one frame of a *list* of frames, before the video budget is applied.

    qwen_vl_utils 0.0.14 passes ``fetch_image`` the patch *factor* where it expects the patch size
    (``fetch_video``: ``fetch_image({"image": frame, **process_info}, image_factor)``), so list frames are first
    rounded to multiples of twice the factor (56 px for Qwen2.5-VL) under the item's own ``min/max_pixels``
    (image defaults otherwise). Reproduced so that the final frame size, hence the token count, is verl's.
    """
    factor = 2 * image_patch_size * SPATIAL_MERGE_SIZE
    if sampling.resized_height is not None and sampling.resized_width is not None:
        return qwen_smart_resize(
            sampling.resized_height, sampling.resized_width, factor, IMAGE_MIN_TOKEN_NUM * factor**2,
            IMAGE_MAX_TOKEN_NUM * factor**2,
        )  # fmt: skip
    min_pixels = sampling.min_pixels if sampling.min_pixels is not None else IMAGE_MIN_TOKEN_NUM * factor**2
    max_pixels = sampling.max_pixels if sampling.max_pixels is not None else IMAGE_MAX_TOKEN_NUM * factor**2
    return qwen_smart_resize(height, width, factor, min_pixels, max_pixels)


def video_frame_size(
    height: int, width: int, nframes: int, sampling: VideoSampling, image_patch_size: int
) -> tuple[int, int]:
    """The ``(height, width)`` every frame of a video of ``nframes`` is resized to (``fetch_video``'s budget).

    Per frame: at least ``min_pixels`` (128 tokens), at most 768 tokens and ``total_pixels / nframes * 2``, never
    below ``1.05 * min_pixels``; an item's ``max_pixels`` can only lower that ceiling.
    """
    factor = image_patch_size * SPATIAL_MERGE_SIZE
    if sampling.resized_height is not None and sampling.resized_width is not None:
        return qwen_smart_resize(
            sampling.resized_height, sampling.resized_width, factor, IMAGE_MIN_TOKEN_NUM * factor**2,
            IMAGE_MAX_TOKEN_NUM * factor**2,
        )  # fmt: skip
    min_pixels = sampling.min_pixels if sampling.min_pixels is not None else VIDEO_MIN_TOKEN_NUM * factor**2
    model_seq_len = int(float(os.environ.get(MODEL_SEQ_LEN_ENV, DEFAULT_MODEL_SEQ_LEN)))
    default_total = model_seq_len * factor**2 * TOTAL_PIXELS_SHARE
    total_pixels = sampling.total_pixels if sampling.total_pixels is not None else default_total
    ceiling = min(VIDEO_MAX_TOKEN_NUM * factor**2, total_pixels / nframes * FRAME_FACTOR)
    ceiling = max(ceiling, int(min_pixels * MAX_PIXELS_FLOOR_MARGIN))
    max_pixels = min(sampling.max_pixels, ceiling) if sampling.max_pixels is not None else ceiling
    return qwen_smart_resize(height, width, factor, min_pixels, max_pixels)
