"""``PixelSFTDataset``: verl's ``MultiTurnSFTDataset`` for pixel-reasoning conversations.

Use it as ``data.custom_cls.path=pkg://verl_pixel.data.sft_dataset data.custom_cls.name=PixelSFTDataset``.

It differs from verl's class in how images are decoded: verl decodes through qwen_vl_utils, which imports
torchvision (absent on CPU-only machines here); this class decodes with PIL (:mod:`verl_pixel.data.images`) and
leaves resizing to the processor, which applies the same ``smart_resize`` rule. Everything else — per-message
rendering, loss masks on assistant turns, the sanity check against the whole conversation — is verl's.
"""

from __future__ import annotations

import re
from typing import Any

from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset
from verl.utils.py_functional import convert_nested_value_to_list_recursive

from verl_pixel.data.images import load_image

_PLACEHOLDER = re.compile(r"(<image>|<video>)")


class PixelSFTDataset(MultiTurnSFTDataset):
    """Multi-turn image SFT dataset that decodes images with PIL."""

    def _build_messages(self, example: dict[str, Any]) -> list[dict[str, Any]]:
        """Replace ``<image>`` placeholders in string contents with decoded images, in order across messages."""
        messages: list[dict[str, Any]] = convert_nested_value_to_list_recursive(example[self.messages_key])
        images = list(example.get(self.image_key) or [])
        used = 0
        for message in messages:
            content = message["content"]
            if not isinstance(content, str):
                continue
            parts: list[dict[str, Any]] = []
            for segment in filter(None, _PLACEHOLDER.split(content)):
                if segment == "<video>":
                    raise ValueError("<video> placeholders are not supported yet; store sampled frames as images")
                if segment == "<image>":
                    if used >= len(images):
                        raise ValueError(f"more <image> placeholders than images ({len(images)})")
                    parts.append({"type": "image", "image": load_image(images[used])})
                    used += 1
                else:
                    parts.append({"type": "text", "text": segment})
            message["content"] = parts
        if used != len(images):
            raise ValueError(f"{len(images)} images but {used} <image> placeholders")
        return messages
