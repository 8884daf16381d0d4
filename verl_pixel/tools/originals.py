"""Finding a trajectory's stored full-resolution images and its video frames in verl's ``AgentData``.

verl hands a tool ``agent_data.image_data``: the prompt images *after* qwen_vl_utils' ``fetch_image`` resized them.
The stored originals are still reachable, in this order of precedence:

1. ``tools_kwargs[<tool name>]["create_kwargs"]["original_images"]`` of any tool of the row (a list aligned with
   the prompt's images; items as below). For datasets whose prompt images are already downscaled copies.
2. The image items of the prompt itself (``agent_data.messages`` before the first assistant turn, i.e. the row's
   ``raw_prompt``): verl's ``RLHFDataset`` puts the row's images there as ``{"type": "image", "image": ...}``
   (a PIL image, a path, a ``file://`` URL or a base64 data URL) or with ``"bytes"``.

Image references here come from the dataset, never from a model's arguments (those can only name indices). They
become handles of the worker's shared originals cache (:mod:`verl_pixel.tools.original_cache`): one per distinct
original whatever number of trajectories hold it, decoded by the project's one decoder
(:func:`verl_pixel.data.images.load_image`) when a crop first needs it, at the resolution the crop needs. A reference
whose header cannot be read (an http(s) URL is not fetched from inside a tool, a missing file, not an image) falls
back to the model's copy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image

from verl_pixel.data.images import ImageDecodeError, describe_ref, load_image
from verl_pixel.ops.frames import frames_from_array
from verl_pixel.tools.original_cache import SharedOriginal, shared_cache

logger = logging.getLogger(__name__)

ORIGINAL_IMAGES_KWARG = "original_images"
_IMAGE_ITEM_TYPES = ("image", "image_url")


def original_image_refs(agent_data: Any) -> list[Any]:
    """References to the trajectory's stored input images, in prompt order (see module docstring)."""
    tools_kwargs = getattr(agent_data, "tools_kwargs", None) or {}
    for per_tool in tools_kwargs.values():
        create_kwargs = per_tool.get("create_kwargs") if isinstance(per_tool, Mapping) else None
        if isinstance(create_kwargs, Mapping) and create_kwargs.get(ORIGINAL_IMAGES_KWARG) is not None:
            return list(create_kwargs[ORIGINAL_IMAGES_KWARG])
    return prompt_image_items(getattr(agent_data, "messages", None) or [])


def prompt_image_items(messages: Sequence[Any]) -> list[Any]:
    """Image content items of the prompt: system/user messages before the first assistant message."""
    items: list[Any] = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        if message.get("role") not in ("system", "user"):
            break
        content = message.get("content")
        if not isinstance(content, list):
            continue
        items.extend(item for item in content if _is_image_item(item))
    return items


def _is_image_item(item: Any) -> bool:
    """Same test as qwen_vl_utils.extract_vision_info, minus videos."""
    if not isinstance(item, Mapping) or "video" in item or item.get("type") == "video":
        return False
    return "image" in item or "image_url" in item or item.get("type") in _IMAGE_ITEM_TYPES


def load_image_ref(ref: Any) -> Image.Image | None:
    """Decode one dataset image reference with the one decoder; ``None`` (with a warning) when it cannot be read.

    A shared PIL image (a GRPO group's ``raw_prompt``) is decoded once and shared, not copied per trajectory.
    """
    try:
        return load_image(ref)
    except ImageDecodeError as err:
        logger.warning("cannot open original image %s: %s", describe_ref(ref), err)
        return None


def shared_original(ref: Any) -> SharedOriginal | None:
    """The worker's shared handle of one dataset image reference; ``None`` (with a warning) when it cannot be read."""
    try:
        return shared_cache().handle(ref)
    except ImageDecodeError as err:
        logger.warning("cannot open original image %s: %s", describe_ref(ref), err)
        return None


def load_originals(agent_data: Any, expected: int) -> list[SharedOriginal | None] | None:
    """Handles of the originals aligned with ``agent_data.image_data``, or ``None`` when their count does not match.

    Nothing is decoded here: a handle decodes when a crop needs its pixels.
    """
    refs = original_image_refs(agent_data)
    if len(refs) != expected:
        if refs or expected:
            logger.warning("found %d original image references for %d input images", len(refs), expected)
        return None
    return [shared_original(ref) for ref in refs]


def first_video_frames(agent_data: Any) -> list[Image.Image]:
    """Sampled frames of the trajectory's first video (verl stores ``(frames, metadata)`` tuples), else []."""
    videos = getattr(agent_data, "video_data", None) or []
    if not videos:
        return []
    video = videos[0]
    if isinstance(video, tuple):
        video = video[0]
    try:
        return frames_from_array(video)
    except (TypeError, ValueError) as err:
        logger.warning("cannot read video frames: %s", err)
        return []
