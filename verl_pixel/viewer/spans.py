r"""Which text is trained and which is masked: SFT messages and decoded rollout responses (pure).

SFT rows (:mod:`verl_pixel.data.sft_schema`): the mask is per message. An assistant message is trained unless it
carries ``loss_mask: 0``; system, user and tool-output messages are never trained. A tool call is part of its
assistant message's tokens, so it is shown inside that message's span, written as the chat template writes it.

Rollouts: verl's dump holds the response decoded with ``skip_special_tokens=True``, not its ``response_mask``, so
the mask is recovered from the text. The chat-template markers ``<|im_start|>`` / ``<|im_end|>`` are dropped by the
decode but the role words and ``<tool_call>`` tags (added, not special, tokens in Qwen's vocabulary) survive. A
tool turn that verl appended after the model's tool call therefore reads::

    ...</tool_call>user\n<tool_response>\n...\n</tool_response>\nassistant\n

(``user\n\nHere is the cropped image ...\nassistant\n`` in the Pixel Reasoner style). Everything from the role
word after ``</tool_call>`` through the next ``assistant\n`` line is tool tokens (response_mask 0); the rest is
model tokens (response_mask 1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from verl_pixel.data.sft_schema import LOSS_MASK_KEY, content_parts, is_tool_output, is_trained
from verl_pixel.ops.tool_call import TOOL_CALL_CLOSE
from verl_pixel.viewer.model import ImageRef, SpanKind, TextSpan, Turn

# After the model's </tool_call>, verl's tool turn starts with the role word of the chat template's tool turn.
_TOOL_TURN_HEADER = re.compile(r"\s*(?:user|tool)\n")
# The generation prompt verl appends to every tool turn, decoded: a line "assistant".
_ASSISTANT_HEADER = re.compile(r"^assistant\n", re.MULTILINE)


def tool_call_text(call: Mapping[str, Any]) -> str:
    """One structured tool call as the chat template renders it (``arguments`` text kept verbatim)."""
    function = call.get("function", call)
    arguments = function.get("arguments")
    if not isinstance(arguments, str):  # rows written outside parquet_io may hold an object
        arguments = json.dumps(arguments, ensure_ascii=False)
    return f'<tool_call>\n{{"name": "{function.get("name")}", "arguments": {arguments}}}\n</tool_call>'


def sft_turn(message: Mapping[str, Any], next_image: int) -> tuple[Turn, int]:
    """The turn of one SFT message, and the number the next ``<image>`` placeholder gets.

    Args:
        message: a message of the SFT schema.
        next_image: the number this message's first ``<image>`` gets (images are numbered in placeholder order).
    """
    kind = SpanKind.TRAINED if is_trained(message) else SpanKind.MASKED
    parts: list[TextSpan | ImageRef] = []
    for part, value in content_parts(message.get("content") or ""):
        if part == "image":
            parts.append(ImageRef(next_image))
            next_image += 1
        else:
            parts.append(TextSpan(value, kind))  # a <video> placeholder stays visible as text
    calls = [tool_call_text(call) for call in message.get("tool_calls") or ()]
    if calls:
        prefix = "\n" if parts else ""
        parts.append(TextSpan(prefix + "\n".join(calls), kind))
    return Turn(str(message.get("role")), tuple(_merged(parts)), _sft_note(message)), next_image


def _sft_note(message: Mapping[str, Any]) -> str:
    if is_tool_output(message) and message.get("role") == "user":
        return "tool output"
    if message.get("role") == "assistant" and message.get(LOSS_MASK_KEY) == 0:
        return "loss_mask: 0"
    return ""


def _merged(parts: Sequence[TextSpan | ImageRef]) -> Iterator[TextSpan | ImageRef]:
    """Join adjacent text spans of the same kind, so one span is one run of text."""
    pending: TextSpan | None = None
    for part in parts:
        if isinstance(part, TextSpan) and pending is not None and pending.kind is part.kind:
            pending = TextSpan(pending.text + part.text, part.kind)
            continue
        if pending is not None:
            yield pending
            pending = None
        if isinstance(part, TextSpan):
            pending = part
        else:
            yield part
    if pending is not None:
        yield pending


def split_response(text: str) -> list[TextSpan]:
    """Split a decoded rollout response into model spans (trained) and tool turns (masked), in order.

    Args:
        text: verl's decoded response (``skip_special_tokens=True``).

    Returns:
        Non-empty spans whose texts concatenate to ``text``.
    """
    spans: list[TextSpan] = []
    model_start = position = 0
    while (close := text.find(TOOL_CALL_CLOSE, position)) != -1:
        turn_start = close + len(TOOL_CALL_CLOSE)
        header = _TOOL_TURN_HEADER.match(text, turn_start)
        if header is None:  # another call of the same turn follows, or the response ended
            position = turn_start
            continue
        end = _ASSISTANT_HEADER.search(text, header.end())
        turn_end = end.end() if end is not None else len(text)
        spans.append(TextSpan(text[model_start:turn_start], SpanKind.TRAINED))
        spans.append(TextSpan(text[turn_start:turn_end], SpanKind.MASKED))
        model_start = position = turn_end
    spans.append(TextSpan(text[model_start:], SpanKind.TRAINED))
    return [span for span in spans if span.text]
