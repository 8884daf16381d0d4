"""Import Pixel Reasoner's SFT data (``TIGER-Lab/PixelReasoner-SFT-Data``) into the SFT row schema.

Pixel Reasoner stores a JSON list; each item's ``message_list`` is a conversation in Qwen's (qwen-agent's)
message format: ``{"role": ..., "content": [{"text": ...} | {"image": path} | {"video": [frame paths]}]}``
(``{"type": "text", "text": ...}`` items occur too). Tool calls are inline ``<tool_call>{...}</tool_call>`` text
in assistant turns and tool results are ``user`` turns ("Here is the cropped image ..."); the system message
carries the tool block as text. Image paths are relative to the unzipped ``images.zip`` / ``videos.zip``.

The import keeps that format — it is what the released checkpoints were trained on — and makes it explicit:

* a user turn that follows an assistant tool call becomes ``tool_output: true`` (never trained);
* images become ``<image>`` placeholders and ``images`` entries (paths resolved against ``image_root``), a
  frame list becomes ``<video>`` and a ``videos`` entry (its frames, as images, until the video path lands);
  an item holding both ``image`` and ``text`` is an image, as the Qwen template and ``qwen_vl_utils`` read it;
* a literal ``<image>`` / ``<video>`` in the text (Pixel Reasoner's questions carry some, ``experience_maker.py``
  line 2753) stays text: it is escaped (:func:`~verl_pixel.data.sft_schema.escape_literal_placeholders`), as the
  Qwen template renders it as text;
* pixel budgets: each image reference carries ``max_pixels`` (default 5120*28*28, the processor Pixel Reasoner's
  SFT builds, ``instruction_tuning/vlm_modules/qwen_module.py`` lines 36-38, without ``max_pixels`` kwargs, so
  its own ``max_pixels`` applies) and each video its frame budget (``420*360``, ``qwen_module.py`` lines 80-84);
  :class:`~verl_pixel.data.sft_dataset.PixelSFTDataset` resizes to it, since verl gives the SFT processor none;
* masking: ``last_two`` (default) reproduces Pixel Reasoner's trainer, which trains only the last two assistant
  turns (masking the erroneous operations of its self-correction trajectories and the text leading to them);
  ``all`` trains every assistant turn;
* a bad item (missing field, missing image, a video file instead of frames) is skipped and named by its
  index and field (:mod:`verl_pixel.data.import_result`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from verl_pixel.data.import_result import ImportResult, convert_items
from verl_pixel.data.sft_schema import (
    TOOL_CALL_TAG,
    RowError,
    check_row,
    escape_literal_placeholders,
    has_tool_call,
)

MESSAGE_LIST_KEYS = ("message_list", "messages")
PIXEL_REASONER_SFT_IMAGE_MAX_PIXELS = 5120 * 28 * 28  # its SFT processor's own max_pixels
PIXEL_REASONER_SFT_FRAME_MAX_PIXELS = 420 * 360  # its SFT video_max_pixels


@dataclasses.dataclass(frozen=True)
class PixelReasonerImportConfig:
    """How Pixel Reasoner items become SFT rows.

    Attributes:
        image_root: folder relative image / frame paths are resolved against (``None``: the JSON file's folder).
        mask_policy: ``last_two`` (Pixel Reasoner's trainer) or ``all``.
        check_files: treat a missing image file as a bad item.
        data_source: recorded in each row.
        image_max_pixels: pixel budget recorded on every image (``None``: the SFT processor's own).
        frame_max_pixels: pixel budget recorded on every video's frames (``None``: the SFT processor's own).
    """

    image_root: str | None = None
    mask_policy: Literal["last_two", "all"] = "last_two"
    check_files: bool = True
    data_source: str = "pixel_reasoner_sft"
    image_max_pixels: int | None = PIXEL_REASONER_SFT_IMAGE_MAX_PIXELS
    frame_max_pixels: int | None = PIXEL_REASONER_SFT_FRAME_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.mask_policy not in ("last_two", "all"):
            raise ValueError(f"mask_policy must be 'last_two' or 'all', got {self.mask_policy!r}")
        for name in ("image_max_pixels", "frame_max_pixels"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 784):
                raise ValueError(f"{name}: expected a pixel count >= 784 (28*28) or None, got {value!r}")


def read_pixel_reasoner_items(path: str | os.PathLike) -> tuple[list[tuple[int, Any]], list[RowError]]:
    """``(item number, item)`` of a Pixel Reasoner JSON list or JSON-lines file, and the lines that are not JSON.

    Raises:
        FileNotFoundError: one line naming a missing file.
        ValueError: a JSON list that does not parse (naming the file and the position).
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no such file: {file}")
    text = file.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            return list(enumerate(json.loads(text))), []
        except json.JSONDecodeError as err:
            raise ValueError(f"{file}: not valid JSON ({err.msg} at line {err.lineno})") from None
    items, errors = [], []
    for number, line in enumerate(line for line in text.splitlines() if line.strip()):
        try:
            items.append((number, json.loads(line)))
        except json.JSONDecodeError as err:
            errors.append(RowError(number, "line", f"not valid JSON ({err.msg})", file=str(file)))
    return items, errors


def import_pixel_reasoner_file(path: str | os.PathLike, config: PixelReasonerImportConfig) -> ImportResult:
    """SFT rows of a Pixel Reasoner file; bad items are skipped and listed (see :func:`read_pixel_reasoner_items`)."""
    items, errors = read_pixel_reasoner_items(path)
    return convert_items(items, lambda item, number: import_item(item, number, config), str(path), errors)


def import_pixel_reasoner(items: Sequence[Any], config: PixelReasonerImportConfig, source: str = "") -> ImportResult:
    """SFT rows of in-memory items (numbered from 0); bad items are skipped and listed."""
    return convert_items(enumerate(items), lambda item, number: import_item(item, number, config), source)


def import_item(item: Mapping[str, Any], index: int, config: PixelReasonerImportConfig) -> dict[str, Any]:
    """The SFT row of one item.

    Raises:
        RowError: naming ``index`` and the field.
    """
    if not isinstance(item, Mapping):
        raise RowError(index, "item", f"expected an object, got {type(item).__name__}")
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
        error = functools.partial(RowError, index, field)
        content = _flatten(message.get("content"), _Media(root, config, images, videos), error)
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


@dataclasses.dataclass
class _Media:
    """Where one item's media go: resolved against ``root``, with the config's budgets."""

    root: Path | None
    config: PixelReasonerImportConfig
    images: list[Any]
    videos: list[dict[str, Any]]

    def add_image(self, path: str) -> None:
        ref: Any = _resolve(path, self.root)
        if self.config.image_max_pixels is not None:
            ref = {"path": ref, "max_pixels": self.config.image_max_pixels}
        self.images.append(ref)

    def add_video(self, frames: Sequence[Any]) -> None:
        video: dict[str, Any] = {"video": [_resolve(str(frame), self.root) for frame in frames]}
        if self.config.frame_max_pixels is not None:
            video["max_pixels"] = self.config.frame_max_pixels
        self.videos.append(video)


def _flatten(content: Any, media: _Media, error: Any) -> str:
    """Content items to text with placeholders (literal ones escaped); collects image paths and frame lists."""
    if isinstance(content, str) or content is None:
        return escape_literal_placeholders(content or "")
    if not isinstance(content, Sequence):
        raise error(f"content: expected text or a list of items, got {type(content).__name__}")
    parts: list[str] = []
    for item in content:
        if not isinstance(item, Mapping):
            raise error(f"content item: expected a mapping, got {type(item).__name__}")
        if item.get("image") is not None:  # before "text": the Qwen template's order of precedence
            parts.append("<image>")
            media.add_image(str(item["image"]))
        elif item.get("video") is not None:
            frames = item["video"]
            if isinstance(frames, str):
                raise error("content item 'video' is a video file; only frame lists can be imported")
            parts.append("<video>")
            media.add_video(frames)
        elif item.get("text") is not None:
            parts.append(escape_literal_placeholders(str(item["text"])))
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
