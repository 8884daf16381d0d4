"""Seed annotations to verl RL rows (the ``pixel_agent`` agent loop's input).

One row per seed::

    data_source   the seed's data source
    prompt        [{"role": "user", "content": "<image>{question}{guidelines}"}]  (optional system message first)
    images        [{"bytes": ...}] (or [{"image": path}] with ``embed_images=False``); [] for video seeds
    videos        [{"video": [frame paths], "max_pixels": ...}] for video seeds in the ``video`` layout
                  (the frames as one video, decoded with qwen_vl_utils' rules); [] otherwise
    reward_model  {"style": "rule", "ground_truth": {"answer": str, "answer_type": str, "options": [str]}}
    agent_name    "pixel_agent"
    extra_info    {"index", "split", "seed_id", "question", "answer", "answer_type", "target", "needs_zoom",
                   "cue_bbox": [x1, y1, x2, y2] pixels or [], "cue_frames": [first, last] or []}

Uniform types per column (parquet): the answer is always text, options always a list (empty unless multiple
choice), the cue fields always lists. With ``video_layout="frames"`` a video seed's frames become ``<image>``
placeholders and ``images`` entries instead (each a separate image, counted against the image budget unless the
row says they are the video's frames).

Every image and frame is decoded (:func:`verl_pixel.data.images.load_image`) before a row is made, so no missing
path or corrupt image is written: a seed whose media fail is named with its field, and stops the preparation
(default) or is dropped with a logged count (``skip_bad``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from verl_pixel.constants import PIXEL_AGENT_NAME
from verl_pixel.data.images import ImageDecodeError, load_image
from verl_pixel.data.seeds import SeedAnnotation, SeedError
from verl_pixel.data.video_sampling import VideoBudget
from verl_pixel.prompts import DEFAULT_GUIDELINES

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RLPrepareConfig:
    """How seeds become RL rows.

    Attributes:
        agent_name: verl agent loop registered for the rows.
        guidelines: text appended to the question.
        system_prompt: optional system message (none by default: the chat template adds the tool block).
        embed_images: store image bytes in the parquet (portable) or absolute paths.
        video_layout: ``video`` (one ``<video>`` and a ``videos`` entry) or ``frames`` (frames as images).
        video: the per-frame pixel bounds written on each ``videos`` entry (Pixel Reasoner's 512-token ceiling).
        split: recorded in ``extra_info.split``.
    """

    agent_name: str = PIXEL_AGENT_NAME
    guidelines: str = DEFAULT_GUIDELINES
    system_prompt: str | None = None
    embed_images: bool = True
    video_layout: Literal["video", "frames"] = "video"
    video: VideoBudget = dataclasses.field(default_factory=VideoBudget)
    split: str = "train"

    def __post_init__(self) -> None:
        if self.video_layout not in ("video", "frames"):
            raise ValueError(f"video_layout must be 'video' or 'frames', got {self.video_layout!r}")


def seed_to_rl_row(seed: SeedAnnotation, index: int, config: RLPrepareConfig | None = None) -> dict[str, Any]:
    """The RL row of one seed (``index`` becomes ``extra_info.index``)."""
    config = config or RLPrepareConfig()
    images: list[dict[str, Any]] = []
    videos: list[dict[str, Any]] = []
    if seed.image:
        placeholders = "<image>"
        images.append(_image_ref(seed.image, config.embed_images))
    elif config.video_layout == "frames":
        placeholders = "<image>" * len(seed.video)
        images += [_image_ref(frame, config.embed_images) for frame in seed.video]
    else:
        placeholders = "<video>"
        videos.append(config.video.entry([str(Path(frame).resolve()) for frame in seed.video]))
    prompt = [{"role": "user", "content": placeholders + seed.question_text() + config.guidelines}]
    if config.system_prompt:
        prompt.insert(0, {"role": "system", "content": config.system_prompt})
    return {
        "data_source": seed.data_source,
        "prompt": prompt,
        "images": images,
        "videos": videos,
        "reward_model": {"style": "rule", "ground_truth": seed.ground_truth()},
        "agent_name": config.agent_name,
        "extra_info": _extra_info(seed, index, config.split),
    }


def seeds_to_rl_rows(
    seeds: Sequence[SeedAnnotation], config: RLPrepareConfig | None = None, skip_bad: bool = False
) -> list[dict[str, Any]]:
    """RL rows of the seeds, indexed in order, after decoding every seed's image or frames.

    Args:
        seeds: the annotations.
        config: how rows are made.
        skip_bad: drop seeds whose media cannot be decoded (logged with a count) instead of stopping.

    Raises:
        SeedError: listing every seed whose image or frames are missing or do not decode (unless ``skip_bad``).
    """
    problems = {seed.seed_id: seed_media_problems(seed) for seed in seeds}
    bad = [problem for found in problems.values() for problem in found]
    listing = "\n  ".join(bad)
    bad_seeds = sum(bool(found) for found in problems.values())
    if bad and not skip_bad:
        raise SeedError(f"{bad_seeds} of {len(seeds)} seeds have unusable images (--skip-bad drops them):\n  {listing}")
    if bad:
        logger.warning("skipped %d of %d seeds with unusable images:\n  %s", bad_seeds, len(seeds), listing)
    good = [seed for seed in seeds if not problems[seed.seed_id]]
    return [seed_to_rl_row(seed, index, config) for index, seed in enumerate(good)]


def seed_media_problems(seed: SeedAnnotation) -> list[str]:
    """Why the seed's image or frames cannot be used: one line per missing or undecodable file."""
    refs = [("image", seed.image)] if seed.image else [(f"video[{i}]", frame) for i, frame in enumerate(seed.video)]
    problems = []
    for field, path in refs:
        try:
            load_image(path)
        except ImageDecodeError as err:
            problems.append(f"seed {seed.seed_id!r}: field '{field}': {err}")
    return problems


def _image_ref(path: str, embed: bool) -> dict[str, Any]:
    if embed:
        return {"bytes": Path(path).read_bytes()}
    return {"image": str(Path(path).resolve())}  # the key verl's image items and qwen_vl_utils read


def _extra_info(seed: SeedAnnotation, index: int, split: str) -> dict[str, Any]:
    return {
        "index": index,
        "split": split,
        "seed_id": seed.seed_id,
        "question": seed.question,
        "answer": seed.answer,
        "answer_type": seed.answer_type,
        "target": seed.target,
        "needs_zoom": seed.needs_zoom,
        "cue_bbox": [float(value) for value in seed.bbox] if seed.bbox is not None else [],
        "cue_frames": [int(value) for value in seed.frames] if seed.frames is not None else [],
    }
