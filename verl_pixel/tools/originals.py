"""Finding a trajectory's stored full-resolution images and its video frames in verl's ``AgentData``.

verl hands a tool ``agent_data.image_data``: the prompt images *after* qwen_vl_utils' ``fetch_image`` resized them.
The stored originals are still reachable, in this order of precedence:

1. ``tools_kwargs[<tool name>]["create_kwargs"]["original_images"]`` of any tool of the row (a list aligned with
   the prompt's images; items as below). For datasets whose prompt images are already downscaled copies.
2. The image items of the prompt itself (``agent_data.messages`` before the first assistant turn, i.e. the row's
   ``raw_prompt``): verl's ``RLHFDataset`` puts the row's images there as ``{"type": "image", "image": ...}``
   (a PIL image, a path, a ``file://`` URL or a base64 data URL) or with ``"bytes"``.

Image references here come from the dataset, never from a model's arguments (those can only name indices).
http(s) URLs are not fetched from inside a tool; such an image falls back to the model's copy.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Mapping, Sequence
from io import BytesIO
from typing import Any

from PIL import Image

from verl_pixel.ops.frames import frames_from_array

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
    """Open one dataset image reference; ``None`` (with a warning) when it cannot be read locally."""
    try:
        return _load(ref)
    except (OSError, ValueError, binascii.Error) as err:
        logger.warning("cannot open original image %s: %s", _describe(ref), err)
        return None


def load_originals(agent_data: Any, expected: int) -> list[Image.Image | None] | None:
    """The originals aligned with ``agent_data.image_data``, or ``None`` when their count does not match."""
    refs = original_image_refs(agent_data)
    if len(refs) != expected:
        if refs or expected:
            logger.warning("found %d original image references for %d input images", len(refs), expected)
        return None
    return [load_image_ref(ref) for ref in refs]


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


def _load(ref: Any) -> Image.Image | None:
    if isinstance(ref, Image.Image):
        return ref
    if isinstance(ref, bytes | bytearray):
        return Image.open(BytesIO(ref))
    if isinstance(ref, Mapping):
        for key in ("image", "image_url", "bytes", "path", "url"):
            if ref.get(key) is not None:
                return _load(ref[key])
        return None
    if isinstance(ref, str | os.PathLike):
        return _load_string(os.fspath(ref))
    return None


def _load_string(ref: str) -> Image.Image | None:
    if ref.startswith(("http://", "https://")):
        logger.warning("original image %s is remote; cropping the model's copy", _describe(ref))
        return None
    if ref.startswith("data:image"):
        _, _, payload = ref.partition("base64,")
        return Image.open(BytesIO(base64.b64decode(payload)))
    path = ref[len("file://") :] if ref.startswith("file://") else ref
    return Image.open(path)


def _describe(ref: Any) -> str:
    text = repr(ref)
    return text if len(text) <= 80 else text[:77] + "..."
