"""Expanding ``<image>`` / ``<video>`` placeholders of SFT messages into the content lists processors take.

Pure: decoding is injected, so this module needs neither verl nor PIL.

A ``<video>`` becomes its frames as consecutive image items. Why frames and not a video item: the Qwen
processors' video path needs torchvision, which cannot be installed next to CPU torch here, and the RL side shows
sampled frames as images too; the token layout of SFT and RL therefore agrees. (With a video item the chat
template would emit ``<|video_pad|>`` and the processor would need a video processor.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from verl_pixel.data.sft_schema import content_parts, video_frames

# decode(reference, field) -> image; ``field`` names the reference for error messages (``images[2]``).
Decoder = Callable[[Any, str], Any]


def with_budget(frame: Any, video: Any) -> Any:
    """A frame reference carrying its video entry's ``max_pixels`` (``{"video": [...], "max_pixels": N}``), if any."""
    budget = video.get("max_pixels") if isinstance(video, Mapping) else None
    if budget is None:
        return frame
    return {**frame, "max_pixels": budget} if isinstance(frame, Mapping) else {"image": frame, "max_pixels": budget}


def expand_placeholders(
    messages: Sequence[Mapping[str, Any]],
    images: Sequence[Any],
    videos: Sequence[Any],
    decode: Decoder,
    image_key: str = "images",
    video_key: str = "videos",
) -> list[dict[str, Any]]:
    """Copies of ``messages`` whose string contents are lists of text and image items, in placeholder order.

    Args:
        messages: the row's messages (string contents; other contents are kept as they are).
        images: image references, one per ``<image>`` in order.
        videos: video entries, one per ``<video>`` (see :func:`~verl_pixel.data.sft_schema.video_frames`).
        decode: turns a reference into an image.
        image_key: name of the images column, for error fields.
        video_key: name of the videos column, for error fields.

    Raises:
        IndexError: if there are more placeholders than references (validate rows first to get a named error).
    """
    out: list[dict[str, Any]] = []
    image_index = video_index = 0
    for message in messages:
        copy = dict(message)
        content = message.get("content")
        if isinstance(content, str):
            items: list[dict[str, Any]] = []
            for kind, value in content_parts(content):
                if kind == "image":
                    items.append({"type": "image", "image": decode(images[image_index], f"{image_key}[{image_index}]")})
                    image_index += 1
                elif kind == "video":
                    video = videos[video_index]
                    field = f"{video_key}[{video_index}].video"
                    items += [
                        {"type": "image", "image": decode(with_budget(frame, video), f"{field}[{j}]")}
                        for j, frame in enumerate(video_frames(video))
                    ]
                    video_index += 1
                else:
                    items.append({"type": "text", "text": value})
            copy["content"] = items
        out.append(copy)
    return out
