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

from verl_pixel.data.sft_schema import IMAGE_PLACEHOLDER, PLACEHOLDER_PATTERN, VIDEO_PLACEHOLDER, video_frames

# decode(reference, field) -> image; ``field`` names the reference for error messages (``images[2]``).
Decoder = Callable[[Any, str], Any]


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
            for segment in filter(None, PLACEHOLDER_PATTERN.split(content)):
                if segment == IMAGE_PLACEHOLDER:
                    items.append({"type": "image", "image": decode(images[image_index], f"{image_key}[{image_index}]")})
                    image_index += 1
                elif segment == VIDEO_PLACEHOLDER:
                    frames = video_frames(videos[video_index])
                    field = f"{video_key}[{video_index}].video"
                    items += [
                        {"type": "image", "image": decode(frame, f"{field}[{j}]")} for j, frame in enumerate(frames)
                    ]
                    video_index += 1
                else:
                    items.append({"type": "text", "text": segment})
            copy["content"] = items
        out.append(copy)
    return out
