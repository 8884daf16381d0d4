r"""The SFT row schema of :class:`~verl_pixel.data.sft_dataset.PixelSFTDataset`, and its validation (pure).

A row (one parquet record)::

    messages   list of messages, in order:
                 role         "system" (first only) | "user" | "assistant" | "tool"
                 content      text with <image> / <video> placeholders (null allowed on an assistant tool call)
                 tool_calls   assistant only: [{"type": "function",
                                                "function": {"name": str, "arguments": JSON object as text}}]
                 loss_mask    assistant only: 0 (not trained) or 1 / null (trained)
                 tool_output  true on a user turn that is an observation (Pixel Reasoner style); null otherwise
    images     image references in placeholder order across all messages: {"bytes": ...}, {"path": ...}, a path
    videos     one entry per <video>: {"video": <video file> | [frame references], **sampling keys} or the bare
               file path / list of frames (sampling keys: :mod:`verl_pixel.data.video_sampling`)
    tools      OpenAI function schemas, as a JSON text (parquet cannot store their varying structs) or a list

Rules (a violation is a :class:`RowProblem` naming the field):

* tool outputs are never trained: a ``tool`` message, or a ``user`` message with ``tool_output: true``;
* the turn after an assistant tool call (``tool_calls``, or ``<tool_call>`` in its text) is a tool output, and a
  tool output follows a tool call; consecutive ``tool`` messages are refused (the chat template merges them, so
  verl's per-message rendering would no longer equal the whole conversation);
* the first non-system message is a user question, no two assistant messages are adjacent, and the
  conversation ends with an assistant message;
* placeholders appear only in user and tool messages, and their count equals the number of images / videos; a
  literal ``<image>`` / ``<video>`` that is text (Pixel Reasoner's questions carry some) is written ``\<image>``
  / ``\<video>`` (:func:`escape_literal_placeholders`) and renders as the text ``<image>``;
* an assistant message has text or a tool call (an empty one would train only the turn's end token).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

ROLES = ("system", "user", "assistant", "tool")
MESSAGE_KEYS = ("role", "content", "tool_calls", "loss_mask", "tool_output")
LOSS_MASK_KEY = "loss_mask"
TOOL_OUTPUT_KEY = "tool_output"
IMAGE_PLACEHOLDER = "<image>"
VIDEO_PLACEHOLDER = "<video>"
TOOL_CALL_TAG = "<tool_call>"
LITERAL_ESCAPE = "\\"  # "\\<image>" is the text "<image>", not a placeholder
# Placeholders and their escaped (literal) forms, as one split pattern; read it with content_parts.
PLACEHOLDER_PATTERN = re.compile(r"(\\?<image>|\\?<video>)")
_PLACEHOLDER_KINDS = {IMAGE_PLACEHOLDER: "image", VIDEO_PLACEHOLDER: "video"}


@dataclasses.dataclass(frozen=True)
class RowProblem:
    """One schema violation of a row: the offending field (``messages[3].role``, ``images[1]``) and why."""

    field: str
    message: str


class RowError(ValueError):
    """A bad data row (SFT or RL); the message names the file (when known), the row and the field.

    Attributes:
        row_index: the row's number in its file (0-based; in the dataset when the file is unknown).
        field: the offending field (``messages[3].role``, ``images[1]``).
        detail: why.
        file: the parquet file, when known.
    """

    def __init__(self, row_index: int | None, field: str, message: str, file: str | None = None) -> None:
        self.row_index = row_index
        self.field = field
        self.detail = message
        self.file = file
        where = f"{file}: row {row_index}" if file else f"row {row_index}"
        super().__init__(f"{where}: field '{field}': {message}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across DataLoader worker processes
        return (RowError, (self.row_index, self.field, self.detail, self.file))


def content_parts(text: str) -> list[tuple[str, str]]:
    r"""A message text as ``(kind, value)`` parts in order.

    Placeholders are ``("image", "<image>")`` and ``("video", "<video>")``; text is ``("text", ...)``, escaped
    literals (``\<image>``) read back as the text ``<image>`` and merged with the text around them.
    """
    parts: list[tuple[str, str]] = []
    for segment in filter(None, PLACEHOLDER_PATTERN.split(text)):
        kind = _PLACEHOLDER_KINDS.get(segment, "text")
        escaped = segment.startswith(LITERAL_ESCAPE) and segment[len(LITERAL_ESCAPE) :] in _PLACEHOLDER_KINDS
        value = segment[len(LITERAL_ESCAPE) :] if escaped else segment
        if kind == "text" and parts and parts[-1][0] == "text":
            parts[-1] = ("text", parts[-1][1] + value)
        else:
            parts.append((kind, value))
    return parts


def count_placeholders(text: str, placeholder: str) -> int:
    """How many ``placeholder`` s (``<image>`` or ``<video>``) ``text`` holds, escaped literals not counted."""
    return sum(1 for kind, value in content_parts(text) if kind != "text" and value == placeholder)


def escape_literal_placeholders(text: str) -> str:
    """``text`` with every ``<image>`` / ``<video>`` escaped, so that all of it stays text."""
    for placeholder in (IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER):
        text = text.replace(placeholder, LITERAL_ESCAPE + placeholder)
    return text


# Private-use characters standing in for escaped literals while a placeholder splitter that knows no escape (verl's
# RLHFDataset._build_messages) runs; see hide_literal_placeholders.
_STAND_INS = {LITERAL_ESCAPE + IMAGE_PLACEHOLDER: "\ue000", LITERAL_ESCAPE + VIDEO_PLACEHOLDER: "\ue001"}


def hide_literal_placeholders(text: str) -> str:
    """``text`` with its escaped literals replaced by stand-ins no placeholder splitter matches."""
    for escaped, stand_in in _STAND_INS.items():
        text = text.replace(escaped, stand_in)
    return text


def show_literal_placeholders(text: str) -> str:
    """Undo :func:`hide_literal_placeholders`: each stand-in becomes the literal text ``<image>`` / ``<video>``."""
    for escaped, stand_in in _STAND_INS.items():
        text = text.replace(stand_in, escaped.removeprefix(LITERAL_ESCAPE))
    return text


def is_tool_output(message: Mapping[str, Any]) -> bool:
    """Whether ``message`` shows a tool's result to the model (never trained)."""
    return message.get("role") == "tool" or (message.get("role") == "user" and message.get(TOOL_OUTPUT_KEY) is True)


def has_tool_call(message: Mapping[str, Any]) -> bool:
    """Whether an assistant message calls a tool: structured ``tool_calls`` or ``<tool_call>`` in its text."""
    content = message.get("content")
    return bool(message.get("tool_calls")) or (isinstance(content, str) and TOOL_CALL_TAG in content)


def is_trained(message: Mapping[str, Any]) -> bool:
    """Whether the message's tokens get loss: an assistant message without ``loss_mask: 0``."""
    return message.get("role") == "assistant" and message.get(LOSS_MASK_KEY) != 0


def parse_tools(value: Any) -> list[dict[str, Any]] | None:
    """The row's tool schemas from a JSON text or a list (``None`` / empty text: no tools).

    Raises:
        ValueError: if the text is not a JSON list of objects.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    tools = json.loads(value) if isinstance(value, str) else value
    if not isinstance(tools, list) or not all(isinstance(tool, Mapping) for tool in tools):
        raise ValueError(f"expected a list of tool schemas, got {type(tools).__name__}")
    return [dict(tool) for tool in tools]


def video_reference(video: Any) -> str | list[Any]:
    """The reference of one ``videos`` entry (``{"video": ...}`` or the reference itself): a file or its frames.

    Returns:
        The video file's path (text) or the list of frame references.

    Raises:
        ValueError: if the entry is neither a path nor a non-empty list of frames.
    """
    reference = video.get("video") if isinstance(video, Mapping) else video
    if isinstance(reference, os.PathLike):
        reference = os.fspath(reference)
    if isinstance(reference, str) and reference.strip():
        return reference
    if isinstance(reference, Sequence) and not isinstance(reference, (bytes, str)) and len(reference) > 0:
        return list(reference)
    raise ValueError('expected {"video": <video file> | [frame, ...]}, a video file path or a non-empty list of frames')


def video_file_problem(path: str, check_files: bool = True) -> str | None:
    """Why ``path`` cannot be a video file reference (``None`` when it can); decoding is left to the dataset."""
    if path.startswith(("http://", "https://")):
        return f"remote video {path!r} is not fetched; store it locally"
    local = path.removeprefix("file://")
    if check_files and not os.path.isfile(local):
        return f"video file not found: {local}"
    return None


def validate_row(
    row: Mapping[str, Any],
    check_files: bool = True,
    messages_key: str = "messages",
    image_key: str = "images",
    video_key: str = "videos",
    tools_key: str = "tools",
) -> list[RowProblem]:
    """Every schema violation of one SFT row (empty when the row is valid); images are not decoded.

    Args:
        row: the row as plain Python values (parquet scalars and arrays already converted to lists / dicts).
        check_files: also check that image paths exist on disk.
        messages_key: column of the messages.
        image_key: column of the images.
        video_key: column of the videos.
        tools_key: column of the tool schemas.
    """
    messages = row.get(messages_key)
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        return [RowProblem(messages_key, "expected a non-empty list of messages")]
    problems = [p for i, m in enumerate(messages) for p in _message_problems(i, m, messages_key)]
    if problems:
        return problems
    problems += _order_problems(messages, messages_key)
    problems += _media_problems(messages, row.get(image_key), row.get(video_key), check_files, image_key, video_key)
    try:
        parse_tools(row.get(tools_key))
    except (ValueError, TypeError) as err:
        problems.append(RowProblem(tools_key, str(err)))
    return problems


def check_row(
    row: Mapping[str, Any], row_index: int | None, check_files: bool = True, file: str | None = None, **keys: str
) -> None:
    """Raise :class:`RowError` for the first problem :func:`validate_row` finds.

    Raises:
        RowError: naming ``file``, ``row_index`` and the field.
    """
    problems = validate_row(row, check_files=check_files, **keys)
    if problems:
        raise row_error(problems, row_index, file)


def row_error(problems: Sequence[RowProblem], row_index: int | None, file: str | None = None) -> RowError:
    """The error of a bad row: its first problem, and how many more there are."""
    extra = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return RowError(row_index, problems[0].field, problems[0].message + extra, file=file)


def _message_problems(index: int, message: Any, key: str) -> list[RowProblem]:
    where = f"{key}[{index}]"
    if not isinstance(message, Mapping):
        return [RowProblem(where, f"expected a mapping, got {type(message).__name__}")]
    role = message.get("role")
    if role not in ROLES:
        return [RowProblem(f"{where}.role", f"{role!r} is not one of {list(ROLES)}")]
    problems: list[RowProblem] = []
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        problems.append(RowProblem(f"{where}.content", "expected text with <image>/<video> placeholders"))
    elif content is None and not (role == "assistant" and message.get("tool_calls")):
        problems.append(RowProblem(f"{where}.content", "missing (only an assistant tool call may have no content)"))
    elif role == "assistant" and not (content or "").strip() and not message.get("tool_calls"):
        problems.append(RowProblem(f"{where}.content", "empty assistant message (nothing to train but the turn end)"))
    elif role in ("assistant", "system") and any(kind != "text" for kind, _ in content_parts(content or "")):
        problems.append(RowProblem(f"{where}.content", f"{role} messages cannot hold <image>/<video> placeholders"))
    mask = message.get(LOSS_MASK_KEY)
    if mask is not None:
        if role != "assistant":
            problems.append(
                RowProblem(f"{where}.{LOSS_MASK_KEY}", f"only assistant messages take a loss_mask, not {role}")
            )
        elif isinstance(mask, bool) or mask not in (0, 1):
            problems.append(RowProblem(f"{where}.{LOSS_MASK_KEY}", f"must be 0 or 1, got {mask!r}"))
    flag = message.get(TOOL_OUTPUT_KEY)
    if flag is not None and (not isinstance(flag, bool) or (flag and role not in ("user", "tool"))):
        problems.append(
            RowProblem(
                f"{where}.{TOOL_OUTPUT_KEY}", f"must be true/false on a user or tool message, got {flag!r} on {role}"
            )
        )
    problems += _tool_call_problems(where, role, message.get("tool_calls"))
    return problems


def _tool_call_problems(where: str, role: str, calls: Any) -> list[RowProblem]:
    if calls is None or (isinstance(calls, Sequence) and not isinstance(calls, str) and len(calls) == 0):
        return []
    if role != "assistant":
        return [RowProblem(f"{where}.tool_calls", f"only assistant messages make tool calls, not {role}")]
    if not isinstance(calls, Sequence) or isinstance(calls, str):
        return [RowProblem(f"{where}.tool_calls", "expected a list of calls")]
    problems: list[RowProblem] = []
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        field = f"{where}.tool_calls[{j}]"
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str) or not function["name"]:
            problems.append(
                RowProblem(field, 'expected {"type": "function", "function": {"name": ..., "arguments": ...}}')
            )
            continue
        arguments = function.get("arguments")
        try:
            decoded = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError as err:
            problems.append(RowProblem(f"{field}.function.arguments", f"not valid JSON: {err}"))
            continue
        if not isinstance(decoded, Mapping):
            problems.append(RowProblem(f"{field}.function.arguments", "must be a JSON object"))
    return problems


def _order_problems(messages: Sequence[Mapping[str, Any]], key: str) -> list[RowProblem]:
    """Role order: [system] user, then assistant turns each followed by a tool output (after a call) or a user."""
    problems: list[RowProblem] = []
    previous: Mapping[str, Any] | None = None
    for index, message in enumerate(messages):
        field, role = f"{key}[{index}].role", message["role"]
        expected = _expected_roles(previous)
        kind = "tool_output" if is_tool_output(message) else role
        if kind not in expected:
            after = "the start" if previous is None else f"{previous['role']} message {index - 1}"
            hint = (
                _CONSECUTIVE_HINT if previous is not None and is_tool_output(previous) and kind == "tool_output" else ""
            )
            problems.append(
                RowProblem(field, f"{kind} out of order after {after}; expected one of {sorted(expected)}{hint}")
            )
        previous = message
    if messages[-1]["role"] != "assistant":
        problems.append(
            RowProblem(f"{key}[{len(messages) - 1}].role", "the conversation must end with an assistant message")
        )
    return problems


_CONSECUTIVE_HINT = (
    " (put the outputs of one assistant turn's calls in one tool message: the chat template merges consecutive"
    " tool messages, so per-message rendering would differ from the whole conversation)"
)


def _expected_roles(previous: Mapping[str, Any] | None) -> set[str]:
    if previous is None:
        return {"system", "user"}
    if previous["role"] == "system":
        return {"user"}
    if previous["role"] == "assistant":
        return {"tool_output"} if has_tool_call(previous) else {"user"}
    return {"assistant"}  # after a user question or a tool output (consecutive tool messages are refused)


def _media_problems(
    messages: Sequence[Mapping[str, Any]], images: Any, videos: Any, check_files: bool, image_key: str, video_key: str
) -> list[RowProblem]:
    text = "".join(m.get("content") or "" for m in messages)
    problems: list[RowProblem] = []
    for placeholder, refs, field in ((IMAGE_PLACEHOLDER, images, image_key), (VIDEO_PLACEHOLDER, videos, video_key)):
        refs = [] if refs is None else refs
        if not isinstance(refs, Sequence) or isinstance(refs, (str, bytes)):
            problems.append(RowProblem(field, f"expected a list, got {type(refs).__name__}"))
            continue
        count = count_placeholders(text, placeholder)
        if count != len(refs):
            problems.append(RowProblem(field, f"{count} {placeholder} placeholders but {len(refs)} {field}"))
    if problems:
        return problems
    for k, ref in enumerate(images or []):
        problem = image_ref_problem(ref, check_files)
        if problem:
            problems.append(RowProblem(f"{image_key}[{k}]", problem))
    for k, video in enumerate(videos or []):
        problems += video_problems(video, f"{video_key}[{k}]", check_files)
    return problems


def video_problems(video: Any, field: str, check_files: bool = True) -> list[RowProblem]:
    """The problems of one ``videos`` entry, named ``field`` (its frames ``field.video[j]``); nothing is decoded."""
    try:
        reference = video_reference(video)
    except ValueError as err:
        return [RowProblem(field, str(err))]
    if isinstance(reference, str):
        problem = video_file_problem(reference, check_files)
        return [RowProblem(field, problem)] if problem else []
    frame_problems = ((j, image_ref_problem(frame, check_files)) for j, frame in enumerate(reference))
    return [RowProblem(f"{field}.video[{j}]", problem) for j, problem in frame_problems if problem]


def image_ref_problem(ref: Any, check_files: bool = True) -> str | None:
    """Why ``ref`` cannot be an image reference (``None`` when it can); decoding is left to the dataset."""
    if isinstance(ref, Mapping):
        if ref.get("bytes") is not None:
            return None if isinstance(ref["bytes"], (bytes, bytearray)) and ref["bytes"] else "empty image bytes"
        inner = ref.get("path") or ref.get("image")
        if inner is None:
            return f"image reference has none of 'bytes', 'path', 'image' (keys: {sorted(ref)})"
        return image_ref_problem(inner, check_files)
    if isinstance(ref, (str, os.PathLike)):
        path = os.fspath(ref).removeprefix("file://")
        if check_files and not os.path.isfile(path):
            return f"image file not found: {path}"
        return None
    if hasattr(ref, "size") and hasattr(ref, "mode"):  # a PIL image (duck-typed: this module does not import PIL)
        return None
    return f"unsupported image reference of type {type(ref).__name__}"
