"""One evaluation episode against an endpoint: the ``pixel_agent`` loop over HTTP, with the same rules.

Per assistant turn: parse the calls (OpenAI ``tool_calls`` if the server returned them, else ``<tool_call>`` text,
malformed blocks included), run them with :mod:`verl_pixel.ops` on the sample's originals, append the outputs, and
ask again; a turn without calls is the answer. The rules are the code ``pixel_agent`` runs, not a copy: the budgets
and the warn-then-end rule of :mod:`verl_pixel.ops.budgets` (their values from the same tool YAML as training, see
:func:`verl_pixel.tools.schema_yaml.read_ops_config`), the record of
:func:`verl_pixel.rollout.trajectory.build_record`, and ``max_turns`` assistant turns like verl's
``multi_turn.max_assistant_turns`` (calls in the last one are not run). Modes: ``adaptive``, ``force_tool``
(instruction added), ``no_tool`` (no tools offered; a call is refused with a message), with the prompts of
:mod:`verl_pixel.rollout.modes`. ``tests/rollout/test_training_eval_parity.py`` runs the same scripted conversations
through both and checks equal records.

Video questions (frames as images, ``num_video_frames > 0``): the frames are also the video of ``select_frames``
and, like a video in training, do not count against ``max_images``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from typing import Any, Literal

from verl_pixel.chat_endpoint import ChatEndpoint, ChatReply, ImageEncoder, data_url_encoder
from verl_pixel.eval.chat_messages import (
    ToolProtocol,
    api_tool_outputs,
    openai_messages,
    structured_calls,
    text_tool_outputs,
    with_tools_in_system,
)
from verl_pixel.eval.sample_inputs import PreparedSample, visual_tokens
from verl_pixel.ops import (
    CROP_TOOL_NAME,
    OPERATIONS,
    ImageRegistry,
    MalformedToolCall,
    OperationResult,
    ToolCall,
    VisualOpsConfig,
    parse_tool_calls,
    run_tool_call,
    tool_schemas,
)
from verl_pixel.prompts import DEFAULT_GUIDELINES
from verl_pixel.record import RolloutMode, StopReason, TrajectoryRecord
from verl_pixel.rollout.config import PixelRolloutConfig
from verl_pixel.rollout.modes import with_mode_instruction
from verl_pixel.rollout.trajectory import TurnOutcome, build_record
from verl_pixel.tools.schema_yaml import read_ops_config

DEFAULT_MAX_TURNS = 6  # assistant turns per episode (and per verl-native validation rollout, see verl_native)


@dataclasses.dataclass(frozen=True)
class EpisodeConfig:
    """How one episode runs.

    Attributes:
        ops: the visual-operation config: a tool YAML's (:func:`~verl_pixel.tools.schema_yaml.read_ops_config`;
            default: the packaged one). ``image_max_pixels`` must not exceed the server's ``max_pixels`` or the
            server resizes again and ``pixels`` boxes drift.
        mode: the rollout mode of every episode.
        max_turns: most assistant turns.
        tool_protocol: tools in the system prompt (Hermes text) or in the request's ``tools``.
        rollout: mode instructions and the default system prompt (``pixel.rollout``'s config).
        image_format: how images are encoded in requests.
        tool_block: a peer preset's tool section of the system prompt, as text (``None``: rendered from the tool
            schemas); needs the ``prompt`` protocol.
        guidelines: a peer preset's question suffix, in place of the rows' :data:`DEFAULT_GUIDELINES`.
    """

    ops: VisualOpsConfig = dataclasses.field(default_factory=read_ops_config)
    mode: RolloutMode = RolloutMode.ADAPTIVE
    max_turns: int = DEFAULT_MAX_TURNS
    tool_protocol: ToolProtocol = ToolProtocol.PROMPT
    rollout: PixelRolloutConfig = dataclasses.field(default_factory=PixelRolloutConfig)
    image_format: Literal["png", "jpeg"] = "png"
    tool_block: str | None = None
    guidelines: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", RolloutMode(self.mode))
        object.__setattr__(self, "tool_protocol", ToolProtocol(self.tool_protocol))
        if self.tool_block is not None and self.tool_protocol is ToolProtocol.API:
            raise ValueError("a preset's tool block is prompt text: use the prompt tool protocol, not api")
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {self.max_turns}")
        data_url_encoder(self.image_format)  # validates the format


@dataclasses.dataclass(frozen=True)
class EpisodeOutcome:
    """What one episode produced (scoring happens in the runner).

    Attributes:
        record: the trajectory record, as ``pixel_agent`` writes it.
        transcript: the assistant turns' texts (structured tool calls appended as ``<tool_call>`` text).
        prompt_tokens: summed over turns from the server's usage; ``None`` if any turn lacked it.
        completion_tokens: likewise.
    """

    record: TrajectoryRecord
    transcript: tuple[str, ...]
    prompt_tokens: int | None
    completion_tokens: int | None


def _registry(sample: PreparedSample, ops: VisualOpsConfig) -> ImageRegistry:
    return ImageRegistry.from_inputs(ops, sample.views, sample.originals, frame_images=sample.num_video_frames)


def with_guidelines(messages: list[dict[str, Any]], guidelines: str | None) -> list[dict[str, Any]]:
    """``messages`` whose question ends with ``guidelines`` instead of :data:`DEFAULT_GUIDELINES`.

    Unchanged for ``None`` or for a question that does not end with them; the input is untouched.
    """
    if guidelines is None:
        return messages
    out = [dict(message) for message in messages]
    for message in out:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list) and content:
            last = content[-1]
            if last.get("type") == "text" and str(last.get("text", "")).endswith(DEFAULT_GUIDELINES):
                text = str(last["text"])[: -len(DEFAULT_GUIDELINES)] + guidelines
                message["content"] = [*content[:-1], {**last, "text": text}]
            break
    return out


def initial_messages(sample: PreparedSample, config: EpisodeConfig, offer_tools: bool) -> list[dict[str, Any]]:
    """The first request's messages: mode instruction, tool block (``prompt`` protocol) and encoded views."""
    messages = with_mode_instruction(
        with_guidelines(sample.messages, config.guidelines),
        config.rollout.instruction(config.mode),
        config.rollout.default_system_prompt,
    )
    if offer_tools and config.tool_protocol is ToolProtocol.PROMPT:
        default = config.rollout.default_system_prompt
        messages = with_tools_in_system(messages, tool_schemas(config.ops), default, config.tool_block)
    return openai_messages(messages, sample.views, data_url_encoder(config.image_format))


def run_calls(
    registry: ImageRegistry, calls: Sequence[ToolCall | MalformedToolCall], available: Sequence[str]
) -> list[OperationResult]:
    """Run one turn's calls in order (CPU work: meant for a worker thread)."""
    return [run_tool_call(registry, call, available) for call in calls]


def _tool_tokens(results: Sequence[OperationResult], ops: VisualOpsConfig) -> int:
    total = 0
    for result in results:
        budget = ops.crop_max_pixels if result.operation == CROP_TOOL_NAME else ops.frame_max_pixels
        total += sum(visual_tokens(image.size, ops, budget) for image in result.images)
    return total


def _transcript_text(reply: ChatReply) -> str:
    """The reply's text, with structured tool calls written out as ``<tool_call>`` blocks."""
    blocks = []
    for call in reply.tool_calls:
        function = call.get("function") or {}
        payload = {"name": function.get("name"), "arguments": function.get("arguments")}
        blocks.append("<tool_call>" + json.dumps(payload) + "</tool_call>")
    return "\n".join([reply.content, *blocks]) if blocks else reply.content


def _sum(values: Sequence[int | None]) -> int | None:
    return None if any(value is None for value in values) else sum(values)  # type: ignore[arg-type]


@dataclasses.dataclass
class _EpisodeState:
    outcome: TurnOutcome = dataclasses.field(default_factory=TurnOutcome)
    replies: list[ChatReply] = dataclasses.field(default_factory=list)
    tool_tokens: int = 0


def _stop_before_running(
    reply: ChatReply, has_calls: bool, state: _EpisodeState, max_turns: int, registry: ImageRegistry
) -> StopReason | None:
    """Why the episode ends at this reply, or ``None`` to run its calls (the order of ``pixel_agent``'s checks)."""
    if not has_calls:
        return StopReason.MAX_RESPONSE_LENGTH if reply.finish_reason == "length" else StopReason.ANSWERED
    if len(state.replies) >= max_turns:
        return StopReason.MAX_TURNS
    return state.outcome.budget.stop_before_calls(registry)


async def run_episode(endpoint: ChatEndpoint, sample: PreparedSample, config: EpisodeConfig) -> EpisodeOutcome:
    """Run one sample to its answer or a limit.

    Raises:
        EndpointError: if the endpoint fails for good (the runner records the sample as failed).
    """
    offer_tools = config.mode is not RolloutMode.NO_TOOL
    available = OPERATIONS if offer_tools else ()
    api_tools = tool_schemas(config.ops) if offer_tools and config.tool_protocol is ToolProtocol.API else None
    encode = data_url_encoder(config.image_format)
    registry = _registry(sample, config.ops)
    messages = initial_messages(sample, config, offer_tools)
    state = _EpisodeState()
    while True:
        reply = await endpoint.complete(messages, api_tools)
        state.replies.append(reply)
        parsed = parse_tool_calls(reply.content)
        calls = structured_calls(reply.tool_calls) if reply.tool_calls else list(parsed.calls)
        state.outcome.turns, state.outcome.answer_text = len(state.replies), parsed.text
        stop = _stop_before_running(reply, bool(calls), state, config.max_turns, registry)
        if stop is not None:
            state.outcome.stop_reason = stop
            return _outcome(config, state, sample.num_video_frames > 0)
        results = await asyncio.to_thread(run_calls, registry, calls, available)
        state.outcome.events += [result.to_event() for result in results]
        state.outcome.budget.after_tool_turn(registry, [result.reason for result in results])
        state.tool_tokens += _tool_tokens(results, config.ops)
        messages += _follow_up(reply, results, config, encode)


def _follow_up(
    reply: ChatReply, results: list[OperationResult], config: EpisodeConfig, encode: ImageEncoder
) -> list[dict]:
    """The assistant turn and the tool outputs to append after running its calls."""
    style = config.ops.output_style
    if reply.tool_calls:
        assistant = {"role": "assistant", "content": reply.content or None, "tool_calls": list(reply.tool_calls)}
        return [assistant, *api_tool_outputs(reply.tool_calls, results, style, encode)]
    return [{"role": "assistant", "content": reply.content}, *text_tool_outputs(results, style, encode)]


def _outcome(config: EpisodeConfig, state: _EpisodeState, video_input: bool) -> EpisodeOutcome:
    return EpisodeOutcome(
        record=build_record(config.mode, state.outcome, state.tool_tokens, video_input),
        transcript=tuple(_transcript_text(reply) for reply in state.replies),
        prompt_tokens=_sum([reply.prompt_tokens for reply in state.replies]),
        completion_tokens=_sum([reply.completion_tokens for reply in state.replies]),
    )
