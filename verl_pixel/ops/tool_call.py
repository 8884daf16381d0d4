"""Parsing Qwen / Hermes tool calls: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``.

Unlike verl's stock hermes parser, which logs and drops a call whose JSON does not parse (and so ends the
trajectory), every ``<tool_call>`` block here yields either a :class:`ToolCall` or a :class:`MalformedToolCall`
carrying a message for the model. Whether the name is a known tool is decided by the dispatcher, not here.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from verl_pixel.ops.result import FailureReason

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
CALL_FORMAT = '<tool_call>{"name": "crop_image", "arguments": {...}}</tool_call>'


@dataclasses.dataclass(frozen=True)
class ToolCall:
    """A syntactically valid call: a tool name and a JSON object of arguments (not yet validated)."""

    name: str
    arguments: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class MalformedToolCall:
    """A ``<tool_call>`` block that could not be read; ``message`` tells the model what to fix."""

    raw: str
    reason: FailureReason
    message: str
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class ParsedTurn:
    """An assistant message split into its text outside tool calls and its calls, in order."""

    text: str
    calls: tuple[ToolCall | MalformedToolCall, ...]


def tool_call_text(name: str, arguments: dict[str, Any]) -> str:
    """A Hermes tool-call block as Qwen models write it (what :func:`parse_tool_calls` reads back)."""
    return f"{TOOL_CALL_OPEN}\n{json.dumps({'name': name, 'arguments': arguments})}\n{TOOL_CALL_CLOSE}"


def parse_tool_calls(text: str) -> ParsedTurn:
    """Split assistant text into prose and tool calls.

    Args:
        text: the decoded assistant turn.

    Returns:
        The prose (tool-call blocks removed, stripped) and one entry per ``<tool_call>`` block; an unclosed block
        at the end is a :class:`MalformedToolCall`.
    """
    prose: list[str] = []
    calls: list[ToolCall | MalformedToolCall] = []
    position = 0
    while True:
        start = text.find(TOOL_CALL_OPEN, position)
        if start == -1:
            prose.append(text[position:])
            break
        prose.append(text[position:start])
        body_start = start + len(TOOL_CALL_OPEN)
        end = text.find(TOOL_CALL_CLOSE, body_start)
        if end == -1:
            calls.append(
                MalformedToolCall(
                    text[body_start:],
                    FailureReason.BAD_JSON,
                    f"<tool_call> was not closed with </tool_call>; write {CALL_FORMAT}",
                )
            )
            break
        calls.append(parse_call_body(text[body_start:end]))
        position = end + len(TOOL_CALL_CLOSE)
    return ParsedTurn("".join(prose).strip(), tuple(calls))


def parse_call_body(body: str) -> ToolCall | MalformedToolCall:
    """Read the JSON between ``<tool_call>`` and ``</tool_call>``."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as err:
        message = f"tool call is not valid JSON ({err.msg} at char {err.pos}); write {CALL_FORMAT}"
        return MalformedToolCall(body, FailureReason.BAD_JSON, message)
    except (ValueError, RecursionError):  # e.g. integers over Python's digit limit, absurd nesting
        return MalformedToolCall(body, FailureReason.BAD_JSON, f"tool call JSON is unreadable; write {CALL_FORMAT}")
    if not isinstance(payload, dict):
        return MalformedToolCall(
            body, FailureReason.BAD_JSON, f'tool call must be a JSON object with "name" and "arguments"; {CALL_FORMAT}'
        )
    name = payload.get("name")
    if not isinstance(name, str) or not name:
        return MalformedToolCall(body, FailureReason.BAD_JSON, f'tool call needs a "name" string; write {CALL_FORMAT}')
    return _with_arguments(body, name, payload.get("arguments", {}))


def _with_arguments(body: str, name: str, arguments: Any) -> ToolCall | MalformedToolCall:
    # Some models emit the arguments as a JSON-encoded string (OpenAI wire format); accept that form.
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            arguments = None
    if not isinstance(arguments, dict):
        return MalformedToolCall(
            body, FailureReason.BAD_TYPE, f'"arguments" of {name} must be a JSON object; write {CALL_FORMAT}', name
        )
    return ToolCall(name, arguments)
