"""OpenAI chat-completions messages for the endpoint runner (images are encoded by the client's encoder).

Two tool protocols (:class:`ToolProtocol`):

* ``prompt`` (default): the tool schemas go into the system prompt in the Qwen2.5 / Hermes layout that the
  package's chat template renders for training (``# Tools ... <tools>{schema}</tools> ... <tool_call>``), the model
  answers with ``<tool_call>{...}</tool_call>`` text, and tool outputs come back as a ``user`` turn reproducing the
  template's ``<tool_response>`` block (``qwen`` style) or Pixel Reasoner's wording (``pixel_reasoner`` style).
  Works with any server, including ones whose stock template knows nothing of tools or images in tool messages.
* ``api``: the schemas are sent as the request's ``tools``; a server with a tool parser (vLLM
  ``--enable-auto-tool-choice --tool-call-parser hermes``) returns ``tool_calls``, which are answered with ``tool``
  messages (text) followed by one ``user`` message carrying the new images (OpenAI tool messages cannot hold images).

Whichever protocol is configured, a reply's ``tool_calls`` field is honoured if present, else its text is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from PIL import Image

from verl_pixel.chat_endpoint import ImageEncoder
from verl_pixel.ops import MalformedToolCall, OperationResult, OutputStyle, ToolCall, result_text
from verl_pixel.ops.tool_call import parse_call_body

# The tool block of the package's chat templates (Qwen2.5's own tool prompt, which Qwen3-VL's template keeps).
TOOLS_HEADER = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_FOOTER = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>"
)
TOOL_IMAGES_TEXT = "Images returned by the tools:"


class ToolProtocol(str, Enum):
    """How tools are offered to the endpoint (module docstring)."""

    PROMPT = "prompt"
    API = "api"


def image_part(image: Image.Image, encode: ImageEncoder) -> dict[str, Any]:
    """An ``image_url`` content part."""
    return {"type": "image_url", "image_url": {"url": encode(image)}}


def hermes_system_prompt(system: str | None, schemas: Sequence[Mapping[str, Any]], block: str | None = None) -> str:
    """``system`` and a blank line, then the tool block, exactly as the package's chat templates render them.

    ``None`` gives the tool block alone: how Qwen3-VL's template renders tools for a conversation without a
    system message. ``block`` is a peer preset's tool block (:mod:`verl_pixel.presets`), written as it is in place
    of the one listing ``schemas``, as the preset's chat template renders it.
    """
    listed = "".join("\n" + json.dumps(schema, ensure_ascii=False) for schema in schemas)
    lead = "" if system is None else f"{system}\n\n"
    return lead + (TOOLS_HEADER + listed + TOOLS_FOOTER if block is None else block)


def with_tools_in_system(
    messages: list[dict[str, Any]], schemas: Sequence[Mapping[str, Any]], default: str, block: str | None = None
) -> list:
    """``messages`` with the tool block (a preset's ``block``, else the schemas') appended to the system message.

    A missing system message is created from ``default``, the model family's default system prompt; an empty
    ``default`` (Qwen3-VL, whose template adds no system turn) gives the tool block alone, as that template does.
    """
    if not messages or messages[0].get("role") != "system":
        if not default:
            return [{"role": "system", "content": hermes_system_prompt(None, schemas, block)}, *messages]
        messages = [{"role": "system", "content": default}, *messages]
    system = messages[0]["content"]
    if isinstance(system, list):  # content parts: the template concatenates their text
        system = "".join(part.get("text", "") for part in system if isinstance(part, Mapping))
    return [{"role": "system", "content": hermes_system_prompt(str(system), schemas, block)}, *messages[1:]]


def openai_messages(messages: Sequence[Mapping[str, Any]], views: Sequence[Image.Image], encode: ImageEncoder) -> list:
    """Prompt messages with ``{"type": "image", "image": index}`` items turned into ``image_url`` parts."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for item in content:
                if item.get("type") == "image":
                    parts.append(image_part(views[int(item["image"])], encode))
                else:
                    parts.append({"type": "text", "text": str(item.get("text", ""))})
            content = parts
        out.append({"role": message["role"], "content": content})
    return out


def structured_calls(tool_calls: Sequence[Mapping[str, Any]]) -> list[ToolCall | MalformedToolCall]:
    """Read OpenAI ``tool_calls`` (arguments as JSON text) with the same checks as ``<tool_call>`` text."""
    calls = []
    for call in tool_calls:
        function = call.get("function") or {}
        body = json.dumps({"name": function.get("name"), "arguments": function.get("arguments", "{}")})
        calls.append(parse_call_body(body))
    return calls


def _qwen_tool_turn(results: Sequence[OperationResult], encode: ImageEncoder) -> dict[str, Any]:
    """One user turn holding every result as ``<tool_response>`` blocks, images first (the template's layout)."""
    parts: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        opening = ("\n" if index else "") + "<tool_response>\n"
        parts.append({"type": "text", "text": opening})
        parts += [image_part(image, encode) for image in result.images]
        parts.append({"type": "text", "text": result_text(result, OutputStyle.QWEN) + "\n</tool_response>"})
    return {"role": "user", "content": _merge_text(parts)}


def _merge_text(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    for part in parts:
        if part["type"] == "text" and merged and merged[-1]["type"] == "text":
            merged[-1] = {"type": "text", "text": merged[-1]["text"] + part["text"]}
        else:
            merged.append(part)
    return merged


def text_tool_outputs(
    results: Sequence[OperationResult], style: OutputStyle, encode: ImageEncoder
) -> list[dict[str, Any]]:
    """Tool outputs for the ``prompt`` protocol: one user turn (qwen) or one user turn per call (pixel_reasoner)."""
    if style is OutputStyle.QWEN:
        return [_qwen_tool_turn(results, encode)]
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": result_text(result, style)},
                *(image_part(image, encode) for image in result.images),
            ],
        }
        for result in results
    ]


def api_tool_outputs(
    tool_calls: Sequence[Mapping[str, Any]],
    results: Sequence[OperationResult],
    style: OutputStyle,
    encode: ImageEncoder,
) -> list[dict[str, Any]]:
    """Tool outputs for structured ``tool_calls``: a ``tool`` message per call, then a user turn with the images."""
    messages: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": str(call.get("id", "")), "content": result_text(result, style)}
        for call, result in zip(tool_calls, results, strict=True)
    ]
    images = [image for result in results for image in result.images]
    if images:
        parts = [{"type": "text", "text": TOOL_IMAGES_TEXT}, *(image_part(image, encode) for image in images)]
        messages.append({"role": "user", "content": parts})
    return messages
