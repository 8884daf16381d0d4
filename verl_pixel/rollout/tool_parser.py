"""A Hermes tool-call parser for verl that never drops a call.

verl's stock ``hermes`` parser logs and discards a ``<tool_call>`` whose JSON does not parse, so the turn looks
like a final answer and the trajectory ends silently. This parser (registered in verl's ``ToolParser`` registry
as ``pixel_hermes``; the ``pixel_agent`` loop always uses it) parses with :func:`verl_pixel.ops.parse_tool_calls`
and hands every block to the loop: a malformed one as a ``FunctionCall`` named :data:`MALFORMED_CALL_NAME` whose
arguments carry the message for the model.
"""

from __future__ import annotations

import json
from typing import Any

from verl.experimental.agent_loop.tool_parser import FunctionCall, ToolParser

from verl_pixel.ops import FailureReason, MalformedToolCall, ToolCall, parse_tool_calls

PARSER_NAME = "pixel_hermes"
MALFORMED_CALL_NAME = "__pixel_malformed_call__"


def to_function_call(call: ToolCall | MalformedToolCall) -> FunctionCall:
    """Encode a parsed call as verl's ``FunctionCall`` (malformed calls keep their reason and message)."""
    if isinstance(call, ToolCall):
        return FunctionCall(name=call.name, arguments=json.dumps(call.arguments, ensure_ascii=False))
    payload = {"reason": call.reason.value, "message": call.message, "name": call.name, "raw": call.raw}
    return FunctionCall(name=MALFORMED_CALL_NAME, arguments=json.dumps(payload, ensure_ascii=False))


def from_function_call(call: FunctionCall) -> ToolCall | MalformedToolCall:
    """Decode what :func:`to_function_call` produced (valid calls' arguments are JSON objects by construction)."""
    payload = json.loads(call.arguments)
    if call.name == MALFORMED_CALL_NAME:
        reason = FailureReason(payload["reason"])
        return MalformedToolCall(raw=payload["raw"], reason=reason, message=payload["message"], name=payload["name"])
    return ToolCall(name=call.name, arguments=payload)


@ToolParser.register(PARSER_NAME)
class PixelHermesToolParser(ToolParser):
    """``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks, malformed ones included."""

    async def extract_tool_calls(self, responses_ids: list[int], tools: Any = None) -> tuple[str, list[FunctionCall]]:
        """Decode the turn and split it into prose and calls (one ``FunctionCall`` per ``<tool_call>`` block)."""
        # Decoding one turn is cheap; verl's parser defers it to an executor, which costs more than it saves here.
        text = self.tokenizer.decode(responses_ids, skip_special_tokens=True)
        turn = parse_tool_calls(text)
        return turn.text, [to_function_call(call) for call in turn.calls]
