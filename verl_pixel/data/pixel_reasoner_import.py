"""Import Pixel Reasoner's SFT data (``TIGER-Lab/PixelReasoner-SFT-Data``) into the SFT row schema.

Pixel Reasoner stores a JSON list; each item's ``message_list`` is a conversation in Qwen's (qwen-agent's)
message format: ``{"role": ..., "content": [{"text": ...} | {"image": path} | {"video": [frame paths]}]}``
(``{"type": "text", "text": ...}`` items occur too). Tool calls are inline ``<tool_call>{...}</tool_call>`` text
in assistant turns and tool results are ``user`` turns ("Here is the cropped image ..."); the system message
carries the tool block as text. Image paths are relative to the unzipped ``images.zip`` / ``videos.zip``.

The import keeps that format — it is what the released checkpoints were trained on — and makes it explicit:

* a user turn that follows an assistant tool call becomes ``tool_output: true`` (never trained);
* images become ``<image>`` placeholders and ``images`` entries (paths resolved against ``image_root``), a
  frame list becomes ``<video>`` and a ``videos`` entry;
* masking: ``last_two`` (default) reproduces Pixel Reasoner's trainer, which trains only the last two assistant
  turns (masking the erroneous operations of its self-correction trajectories and the text leading to them);
  ``all`` trains every assistant turn.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from verl_pixel.data.sft_schema import TOOL_CALL_TAG, RowError, check_row, has_tool_call

MESSAGE_LIST_KEYS = ("message_list", "messages")


@dataclasses.dataclass(frozen=True)
class PixelReasonerImportConfig:
    """How Pixel Reasoner items become SFT rows.

    Attributes:
        image_root: folder relative image / frame paths are resolved against (``None``: the JSON file's folder).
        mask_policy: ``last_two`` (Pixel Reasoner's trainer) or ``all``.
        check_files: fail on a missing image file.
        data_source: recorded in each row.
    """

    image_root: str | None = None
    mask_policy: Literal["last_two", "all"] = "last_two"
    check_files: bool = True
    data_source: str = "pixel_reasoner_sft"

    def __post_init__(self) -> None:
        if self.mask_policy not in ("last_two", "all"):
            raise ValueError(f"mask_policy must be 'last_two' or 'all', got {self.mask_policy!r}")


def read_pixel_reasoner_items(path: str | os.PathLike) -> list[Mapping[str, Any]]:
    """Items of a Pixel Reasoner JSON list (or JSON-lines) file."""
    text = Path(path).read_text()
    if text.lstrip().startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def import_pixel_reasoner(
    items: Sequence[Mapping[str, Any]], config: PixelReasonerImportConfig
) -> list[dict[str, Any]]:
    """SFT rows of all items, validated.

    Raises:
        RowError: naming the item index and the field of the first malformed item.
    """
    return [import_item(item, index, config) for index, item in enumerate(items)]


def import_item(item: Mapping[str, Any], index: int, config: PixelReasonerImportConfig) -> dict[str, Any]:
    """The SFT row of one item.

    Raises:
        RowError: naming ``index`` and the field.
    """
    key = next((k for k in MESSAGE_LIST_KEYS if k in item), None)
    if key is None or not isinstance(item[key], Sequence):
        raise RowError(index, "message_list", f"missing: expected one of {list(MESSAGE_LIST_KEYS)}")
    root = Path(config.image_root) if config.image_root else None
    images: list[str] = []
    videos: list[dict[str, list[str]]] = []
    messages: list[dict[str, Any]] = []
    for position, message in enumerate(item[key]):
        field = f"{key}[{position}]"
        if not isinstance(message, Mapping):
            raise RowError(index, field, f"expected a mapping, got {type(message).__name__}")
        content = _flatten(message.get("content"), root, images, videos, lambda m, f=field: RowError(index, f, m))
        converted: dict[str, Any] = {"role": message.get("role"), "content": content}
        if converted["role"] == "user" and messages and has_tool_call(messages[-1]):
            converted["tool_output"] = True
        messages.append(converted)
    _apply_mask_policy(messages, config.mask_policy)
    row = {
        "messages": messages,
        "images": images,
        "videos": videos,
        "tools": None,
        "data_source": config.data_source,
        "trajectory_type": _guess_type(messages, videos),
    }
    check_row(row, index, check_files=config.check_files)
    return row


def _flatten(content: Any, root: Path | None, images: list[str], videos: list[dict[str, list[str]]], error: Any) -> str:
    """Content items to text with placeholders; collects image paths and frame lists."""
    if isinstance(content, str) or content is None:
        return content or ""
    if not isinstance(content, Sequence):
        raise error(f"content: expected text or a list of items, got {type(content).__name__}")
    parts: list[str] = []
    for item in content:
        if not isinstance(item, Mapping):
            raise error(f"content item: expected a mapping, got {type(item).__name__}")
        if item.get("text") is not None:
            parts.append(str(item["text"]))
        elif item.get("image") is not None:
            parts.append("<image>")
            images.append(_resolve(str(item["image"]), root))
        elif item.get("video") is not None:
            frames = item["video"]
            if isinstance(frames, str):
                raise error("content item 'video' is a video file; only frame lists can be imported")
            parts.append("<video>")
            videos.append({"video": [_resolve(str(frame), root) for frame in frames]})
        else:
            raise error(f"content item has none of 'text', 'image', 'video' (keys: {sorted(item)})")
    return "".join(parts)


def _resolve(path: str, root: Path | None) -> str:
    path = path.removeprefix("file://")
    if root is None or os.path.isabs(path):
        return path
    return str(root / path)


def _apply_mask_policy(messages: list[dict[str, Any]], policy: str) -> None:
    assistant = [m for m in messages if m["role"] == "assistant"]
    trained = assistant[-2:] if policy == "last_two" else assistant
    for message in assistant:
        message["loss_mask"] = 1 if any(message is m for m in trained) else 0


def _guess_type(messages: Sequence[Mapping[str, Any]], videos: Sequence[Any]) -> str:
    """A label for statistics: ``text_only`` without calls, else the modality and the number of calls."""
    calls = sum(str(m.get("content") or "").count(TOOL_CALL_TAG) for m in messages if m["role"] == "assistant")
    if calls == 0:
        return "text_only"
    return f"{'video' if videos else 'image'}_{calls}_calls"
