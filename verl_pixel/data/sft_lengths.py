"""Token lengths of SFT rows as verl's SFT trainer sees them, counted before any GPU is used (pure).

verl 0.9.1's ``MultiTurnSFTDataset`` raises ``sequence_length=... is larger than self.max_length=...`` for one row
longer than ``data.max_length`` (``truncation: error``, the recipes' choice: cutting a multimodal sequence would keep
image features without their tokens). It raises inside a DataLoader worker when the row's batch is drawn, which
aborts torchrun mid-run. :func:`row_token_count` counts every row up front, without decoding an image:

* the conversation as the processor's chat template renders it with the row's tool schemas (verl's sanity check
  holds its per-message tokenization to exactly this rendering, ``ignore_input_ids_mismatch: false``), placeholders
  expanded as :class:`~verl_pixel.data.sft_dataset.PixelSFTDataset` expands them (a ``<video>`` to its frames);
* each image's ``<|image_pad|>`` run: the image size read from its header, resized by the reference's own
  ``max_pixels`` when it carries one (what ``PixelSFTDataset`` applies) and then by the processor's
  ``smart_resize`` (:class:`ImageGeometry`), one token per ``factor x factor`` square;
* each video (one video item, as ``PixelSFTDataset`` keeps it): decoded by the one video decoder as the dataset
  decodes it, and expanded by the processor itself (:func:`video_tokens`), since Qwen3-VL adds timestamps and a
  vision block per frame group; a video row costs a decode, an image row none.

:class:`TokenLimit` is what the row checks (:mod:`verl_pixel.data.row_checks`) apply: the dataset at load
(``data.max_length``) and ``verl-pixel data check --max-length N --model DIR``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from typing import Any

from verl_pixel.data.images import image_size
from verl_pixel.data.message_content import expand_placeholders
from verl_pixel.data.sft_schema import parse_tools
from verl_pixel.ops.resize import fit_to_budget

DEFAULT_PATCH_SIZE = 14  # Qwen2.5-VL's, for an image processor that does not say
DEFAULT_MERGE_SIZE = 2
DEFAULT_MIN_PIXELS = 56 * 56


@dataclasses.dataclass(frozen=True)
class ImageGeometry:
    """How a Qwen-VL image processor sizes images.

    Attributes:
        factor: patch size x merge size; one visual token covers ``factor x factor`` pixels.
        min_pixels: the processor's smallest image.
        max_pixels: the processor's largest image (``None``: no upper bound known).
    """

    factor: int
    min_pixels: int
    max_pixels: int | None = None

    @classmethod
    def of(cls, processor: Any) -> ImageGeometry:
        """Read it from a processor (transformers 5 keeps the bounds as ``size`` shortest / longest edge)."""
        image_processor = getattr(processor, "image_processor", None)
        patch = int(getattr(image_processor, "patch_size", None) or DEFAULT_PATCH_SIZE)
        merge = int(getattr(image_processor, "merge_size", None) or DEFAULT_MERGE_SIZE)
        size = getattr(image_processor, "size", None)

        def bound(edge: str, attribute: str) -> int | None:
            value = size.get(edge) if hasattr(size, "get") else getattr(size, edge, None)
            value = value or getattr(image_processor, attribute, None)
            return int(value) if value else None

        min_pixels = bound("shortest_edge", "min_pixels") or DEFAULT_MIN_PIXELS
        return cls(patch * merge, min_pixels, bound("longest_edge", "max_pixels"))

    def tokens(self, size: tuple[int, int], budget: int | None = None) -> int:
        """Visual tokens of an image of ``size`` pixels, first resized to ``budget`` pixels when one is given."""
        if budget is not None:
            size = fit_to_budget(size, self.factor, self.min_pixels, int(budget))
        if self.max_pixels is not None:
            size = fit_to_budget(size, self.factor, self.min_pixels, self.max_pixels)
        return (size[0] // self.factor) * (size[1] // self.factor)


@dataclasses.dataclass(frozen=True)
class TokenLimit:
    """A length limit the row checks apply to SFT rows.

    Attributes:
        count: the token count of a row (:func:`token_counter`).
        limit: the largest allowed count.
        setting: how the user changes the limit, for messages (``data.max_length``, ``--max-length``).
    """

    count: Callable[[Mapping[str, Any]], int]
    limit: int
    setting: str = "data.max_length"

    def problem(self, row: Mapping[str, Any]) -> str | None:
        """Why the row is too long (its count and the limit), or ``None`` when it fits."""
        count = self.count(row)
        if count <= self.limit:
            return None
        return f"{count} tokens, over the {self.limit}-token limit ({self.setting}); images included"


def row_token_count(
    row: Mapping[str, Any],
    processor: Any,
    geometry: ImageGeometry | None = None,
    messages_key: str = "messages",
    image_key: str = "images",
    video_key: str = "videos",
    tools_key: str = "tools",
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> int:
    """Tokens of one SFT row as verl's SFT dataset builds it (module docstring).

    Raises:
        ValueError: the row's tools do not parse, or its images cannot be read (validate rows first for a named
            error).
    """
    geometry = geometry or ImageGeometry.of(processor)
    refs: list[Any] = []
    videos: list[Any] = []

    def keep(ref: Any, field: str) -> Any:
        refs.append(ref)
        return ref  # the template renders a placeholder per image item; the pixels are not needed

    def keep_video(entry: Any, field: str) -> list[dict[str, Any]]:
        videos.append(entry)
        return [{"type": "video", "video": entry}]  # rendered as one placeholder, expanded below

    messages = expand_placeholders(
        row[messages_key], row.get(image_key) or [], row.get(video_key) or [], keep, image_key, video_key, keep_video
    )
    tools = parse_tools(row.get(tools_key))
    text = processor.apply_chat_template(messages, tools=tools, tokenize=False, **dict(chat_template_kwargs or {}))
    tokenizer = getattr(processor, "tokenizer", processor)
    with _TOKENIZER_LOCK:  # a fast tokenizer is not safe to call from several threads at once
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    image_tokens = sum(geometry.tokens(image_size(ref), _budget(ref)) for ref in refs)
    video_extra = sum(video_tokens(processor, entry) for entry in videos)  # tokens beyond the rendered placeholder
    return len(ids) - len(refs) + image_tokens + video_extra  # each image's one placeholder becomes its token run


def video_tokens(processor: Any, entry: Any) -> int:
    """Tokens a ``videos`` entry adds beyond the one ``<|video_pad|>`` the template renders for it.

    The entry is decoded as :class:`~verl_pixel.data.sft_dataset.PixelSFTDataset` decodes it, and the processor
    expands it as verl's SFT dataset has it do (``apply_chat_template(tokenize=True)`` on a message holding the
    frames, no metadata), against the same message rendered as text.
    """
    from verl_pixel.data.videos import load_video

    image_processor = getattr(processor, "image_processor", None)
    patch = int(getattr(image_processor, "patch_size", None) or DEFAULT_PATCH_SIZE)
    frames, _ = load_video(entry, image_patch_size=patch)
    message = [{"role": "user", "content": [{"type": "video", "video": frames}]}]
    text = processor.apply_chat_template(message, tokenize=False, add_generation_prompt=False)
    expanded = processor.apply_chat_template(message, tokenize=True, return_dict=True, add_generation_prompt=False)
    tokenizer = getattr(processor, "tokenizer", processor)
    with _TOKENIZER_LOCK:
        plain = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return len(expanded["input_ids"][0]) - plain


def token_counter(
    processor: Any, keys: Mapping[str, str] | None = None, chat_template_kwargs: Mapping[str, Any] | None = None
) -> Callable[[Mapping[str, Any]], int]:
    """:func:`row_token_count` bound to a processor and the dataset's column names."""
    geometry = ImageGeometry.of(processor)
    return lambda row: row_token_count(
        row, processor, geometry, chat_template_kwargs=chat_template_kwargs, **dict(keys or {})
    )


_TOKENIZER_LOCK = threading.Lock()


def _budget(ref: Any) -> int | None:
    budget = ref.get("max_pixels") if isinstance(ref, Mapping) else None
    return int(budget) if budget is not None else None
