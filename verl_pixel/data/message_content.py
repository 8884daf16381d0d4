"""Expanding ``<image>`` / ``<video>`` placeholders of row messages into the content lists processors take.

Pure: decoding is injected, so this module needs neither verl nor PIL. An ``<image>`` becomes one image item; a
``<video>`` becomes whatever the caller's ``video_items`` makes of its ``videos`` entry: one video item for the SFT
dataset (the processor renders ``<|video_pad|>`` for it, as Pixel Reasoner trains), its frames as image items for
the endpoint runner (an OpenAI-compatible server takes images).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from verl_pixel.data.sft_schema import content_parts

# decode(reference, field) -> image; ``field`` names the reference for error messages (``images[2]``).
Decoder = Callable[[Any, str], Any]
# video_items(videos entry, field) -> the content items standing for that video (``field``: ``videos[0]``).
VideoItems = Callable[[Any, str], list[dict[str, Any]]]


def _no_videos(entry: Any, field: str) -> list[dict[str, Any]]:
    raise ValueError(f"field '{field}': this reader takes no videos")


def expand_placeholders(
    messages: Sequence[Mapping[str, Any]],
    images: Sequence[Any],
    videos: Sequence[Any],
    decode: Decoder,
    image_key: str = "images",
    video_key: str = "videos",
    video_items: VideoItems = _no_videos,
) -> list[dict[str, Any]]:
    """Copies of ``messages`` whose string contents are lists of text, image and video items, in placeholder order.

    Args:
        messages: the row's messages (string contents; other contents are kept as they are).
        images: image references, one per ``<image>`` in order.
        videos: ``videos`` entries, one per ``<video>``.
        decode: turns an image reference into an image.
        image_key: name of the images column, for error fields.
        video_key: name of the videos column, for error fields.
        video_items: turns a ``videos`` entry into content items (default: videos are refused).

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
                    items += video_items(videos[video_index], f"{video_key}[{video_index}]")
                    video_index += 1
                else:
                    items.append({"type": "text", "text": value})
            copy["content"] = items
        out.append(copy)
    return out
