"""``pixel_agent``: verl's ``ToolAgentLoop`` with visual operations, rollout modes and a trajectory record.

Registered in verl's agent-loop registry as ``pixel_agent`` (through the ``verl.plugins`` entry point, so every
``AgentLoopWorker`` process has it). Select it per row with the ``agent_name`` column or for all rows with
``actor_rollout_ref.rollout.agent.default_agent_loop=pixel_agent``; load the tools with
``actor_rollout_ref.rollout.multi_turn.tool_config_path=<verl_pixel/configs/tools/pixel_tools.yaml>``.

verl's state machine, token-in/token-out generation and Continuous Token merging are reused unchanged. What
differs, each in one override:

* :class:`~verl_pixel.rollout.tool_parser.PixelHermesToolParser` keeps malformed calls, and :meth:`_call_tool`
  answers them — and unknown tools, tool aliases, calls refused by the mode — with the operation layer's
  specific message instead of ending the trajectory, through the same
  :func:`~verl_pixel.tools.session.answer_call` the tools use; every call of a turn is answered (verl would run
  only ``max_parallel_calls`` of them and drop the rest unanswered);
* the rollout mode (``adaptive`` / ``force_tool`` / ``no_tool``) comes from the rollout's ``session_id`` and the
  row's probe plan (``extra_info["pixel_probe_plan"]``, written by ``PixelRLDataset`` when the necessity memory is
  on: :mod:`verl_pixel.rollout.probe_plan`), else ``pixel.rollout.mode_layout``; it edits the system prompt and
  the offered tools (:meth:`run`, :meth:`_handle_pending_state`);
* the budgets and the warn-then-end rule of :mod:`verl_pixel.ops.budgets` (shared with the endpoint evaluation)
  end a trajectory that calls again after being told a budget is spent (:meth:`_handle_processing_tools_state`);
  verl already refuses to append a tool turn that would overflow the response, so image tokens never lose their
  features (verl#4050);
* a row with a video (``video_data``: PixelRLDataset decodes it, verl passes it) offers its sampled frames to
  ``select_frames``, and so does a row whose ``extra_info.num_video_frames`` says its images are those frames (eval
  rows in the frames layout); neither counts against ``max_images``;
* on SGLang, vision placeholders are banned from sampling (:func:`sampling_bans`), as verl's vLLM server bans them;
* the trajectory's :class:`~verl_pixel.record.TrajectoryRecord` (built by
  :func:`~verl_pixel.rollout.trajectory.build_record`, as the endpoint evaluation builds it) is written into
  ``extra_fields`` (:meth:`run`).

Frames chosen by ``select_frames`` come back as images, which verl's loop accepts (it rejects video outputs).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
from verl.experimental.agent_loop.tool_agent_loop import AgentData, AgentState, ToolAgentLoop
from verl.experimental.agent_loop.tool_parser import FunctionCall
from verl.tools.schemas import ToolResponse
from verl.workers.rollout.utils import get_vision_placeholder_token_ids

from verl_pixel.constants import IMAGE_PAD, NUM_VIDEO_FRAMES_FIELD, PIXEL_AGENT_NAME
from verl_pixel.ops import ToolCall, VisualOpsConfig, canonical_operation, parse_tool_calls
from verl_pixel.pixel_config import pixel_config
from verl_pixel.record import RolloutMode, StopReason
from verl_pixel.rollout.config import PixelRolloutConfig
from verl_pixel.rollout.modes import mode_for_session, with_family_system_prompt, with_mode_instruction
from verl_pixel.rollout.probe_plan import plan_of_row
from verl_pixel.rollout.tool_parser import PixelHermesToolParser, from_function_call
from verl_pixel.rollout.trajectory import TurnOutcome, build_record, has_video_input, tool_image_tokens
from verl_pixel.tools.pixel_tools import PixelOperationTool, tool_response
from verl_pixel.tools.schema_yaml import agreed_ops_config
from verl_pixel.tools.session import (
    TOOL_EVENTS_KEY,
    answer_call,
    pop_tool_events,
    session_for,
    trajectory_registry,
)

logger = logging.getLogger(__name__)

SGLANG = "sglang"


def sampling_bans(rollout_name: str, processor: Any) -> dict[str, Any]:
    """Sampling parameters keeping the vision placeholders out of what the policy samples, where the backend needs them.

    A sampled ``<|image_pad|>`` / ``<|video_pad|>`` has no image behind it: verl's ``get_rope_index`` and the feature
    merge fail on the trajectory and its whole prompt group is dropped. verl 0.9.1's vLLM server bans both tokens for
    every request (``vllm_async_server.py``: ``monkey_patch_model`` with ``get_vision_placeholder_token_ids``); its
    SGLang server does not (``sglang_rollout/async_sglang_server.py`` passes ``sampling_params`` through as given). On
    SGLang the same tokens are therefore banned per request with SGLang's own ``logit_bias`` (token id as text ->
    additive bias; ``sglang/srt/sampling/sampling_params.py``, applied in ``SamplingBatchInfo``). The ``hf`` backend
    bans them itself (``engine_kwargs.hf.suppress_vision_tokens``).

    Returns:
        ``{"logit_bias": {...}}`` for SGLang with a multimodal processor, else ``{}``.
    """
    if rollout_name != SGLANG or processor is None:
        return {}
    banned = get_vision_placeholder_token_ids(processor)
    return {"logit_bias": {str(token_id): float("-inf") for token_id in banned}} if banned else {}


@register(PIXEL_AGENT_NAME)
class PixelAgentLoop(ToolAgentLoop):
    """Multi-turn visual-operation rollout. One instance per trajectory (verl instantiates it per sample)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The whole pixel section is validated, not just pixel.rollout: a typo anywhere in it is an error here too.
        # Unless pixel.rollout sets one, the default system prompt is the model family's (Qwen3-VL's is empty).
        section = (self.config.get("pixel") or {}).get("rollout")
        rollout = pixel_config(self.config).rollout
        renderer = self.processor or self.tokenizer
        self.pixel_config: PixelRolloutConfig = with_family_system_prompt(rollout, section, renderer)
        self.tool_parser = PixelHermesToolParser(self.tokenizer)
        self.ops_config = self._pixel_tools_config()
        # verl runs only the first `max_parallel_calls` calls of a turn and drops the rest unanswered; every call is
        # answered here instead (each counts against the operation budget), as in the endpoint evaluation.
        self.max_parallel_calls = sys.maxsize
        self.mode = RolloutMode.ADAPTIVE
        self.frame_images = 0
        self.outcome = TurnOutcome()
        self._image_pad_id = self.tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        self._sampling_bans = sampling_bans(self.rollout_config.name, self.processor)

    def _pixel_tools_config(self) -> VisualOpsConfig:
        """The operation config the pixel tools share (an error if they differ); defaults without pixel tools."""
        configs = {name: tool.ops_config for name, tool in self.tools.items() if isinstance(tool, PixelOperationTool)}
        return agreed_ops_config(configs, "multi_turn.tool_config_path") if configs else VisualOpsConfig()

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        """Run one rollout in the mode its ``session_id`` selects and attach the trajectory record."""
        extra_info = kwargs.get("extra_info")
        self.mode = self._mode(extra_info, kwargs.get("session_id"))
        if isinstance(extra_info, Mapping):
            self.frame_images = int(extra_info.get(NUM_VIDEO_FRAMES_FIELD) or 0)
        video_input = has_video_input(kwargs["raw_prompt"], self.frame_images)
        kwargs["raw_prompt"] = with_mode_instruction(
            list(kwargs["raw_prompt"]),
            self.pixel_config.instruction(self.mode),
            self.pixel_config.default_system_prompt,
        )
        if self._sampling_bans:
            sampling_params = {**sampling_params, **self._sampling_bans}
        output = await super().run(sampling_params, **kwargs)
        pop_tool_events(output.extra_fields)  # the record keeps those of the tool turns that reached the model
        tokens = tool_image_tokens(output.response_ids, output.response_mask, self._image_pad_id)
        output.extra_fields.update(build_record(self.mode, self.outcome, tokens, video_input).to_extra_fields())
        return output

    def _mode(self, extra_info: Any, session_id: int | None) -> RolloutMode:
        """The session's mode: from the row's probe plan if it has one, else from the static layout."""
        try:
            plan = plan_of_row(extra_info)
        except ValueError as err:  # our own dataset wrote it: a bug, but one that must not end the rollout
            logger.error("pixel_agent: %s; running the static mode layout", err)
            plan = None
        if plan is not None:
            return plan.mode_for_session(session_id)
        return mode_for_session(self.pixel_config, session_id)

    async def _handle_pending_state(self, agent_data: AgentData, sampling_params: dict[str, Any]) -> AgentState:
        session_for(agent_data, self.ops_config, self.frame_images)  # open it knowing whether the images are frames
        if self.mode is RolloutMode.NO_TOOL:  # no tools offered: the template renders no tool section
            agent_data._active_tools, agent_data._active_tool_schemas = {}, []
        return await super()._handle_pending_state(agent_data, sampling_params)

    async def _handle_generating_state(
        self, agent_data: AgentData, sampling_params: dict[str, Any], ignore_termination: bool = False
    ) -> AgentState:
        messages_before = len(agent_data.messages)
        state = await super()._handle_generating_state(agent_data, sampling_params, ignore_termination)
        self.outcome.turns = agent_data.assistant_turns
        # verl appends the assistant message only when it parsed the turn (no limit hit); else decode it here.
        if len(agent_data.messages) > messages_before:
            self.outcome.answer_text = agent_data.messages[-1]["content"]
        else:
            self.outcome.answer_text = parse_tool_calls(self._decode(agent_data.response_ids)).text
        if state is AgentState.TERMINATED:
            self.outcome.stop_reason = self._stop_reason(agent_data)
        return state

    async def _handle_processing_tools_state(self, agent_data: AgentData) -> AgentState:
        stop = self.outcome.budget.stop_before_calls(trajectory_registry(agent_data))
        if stop is not None:
            # The model was told its budget is spent and called again: end here, before running or appending
            # anything (the calls never reach the conversation, so they are not counted).
            self.outcome.stop_reason = stop
            return AgentState.TERMINATED
        events_before = len(agent_data.extra_fields.get(TOOL_EVENTS_KEY, []))
        state = await super()._handle_processing_tools_state(agent_data)
        if state is AgentState.TERMINATED:
            # verl did not append this tool turn (it would overflow the response): its calls never reached the
            # model, so they are not counted either.
            self.outcome.stop_reason = StopReason.MAX_RESPONSE_LENGTH
            return state
        events = agent_data.extra_fields.get(TOOL_EVENTS_KEY, [])[events_before:]
        self.outcome.events += events
        self.outcome.budget.after_tool_turn(trajectory_registry(agent_data), [event["reason"] for event in events])
        return state

    async def _call_tool(
        self, tool_call: FunctionCall, tools_kwargs: dict[str, Any], agent_data: AgentData
    ) -> tuple[ToolResponse, float, dict]:
        """Route one call.

        Well-formed calls to an offered tool go through verl's tool machinery (create / execute / release); the
        rest are answered here with the operation layer's message and count against the call budget.
        """
        active = getattr(agent_data, "_active_tools", self.tools)
        registered = {canonical_operation(name): name for name in active if canonical_operation(name)}
        call = from_function_call(tool_call)
        if isinstance(call, ToolCall) and call.name in active and not canonical_operation(call.name):
            return await super()._call_tool(tool_call, tools_kwargs, agent_data)  # a non-visual tool of the user's
        operation = canonical_operation(call.name)
        if isinstance(call, ToolCall) and operation in registered:
            # Aliases (zoom_in, image_zoom_in_tool, ...) reach the tool under the name it is registered with.
            named = tool_call.model_copy(update={"name": registered[operation]})
            return await super()._call_tool(named, tools_kwargs, agent_data)
        available = () if self.mode is RolloutMode.NO_TOOL else tuple(registered)
        result = await answer_call(agent_data, self.ops_config, call, available)
        return tool_response(result, self.ops_config.output_style), 0.0, result.to_event()

    def _stop_reason(self, agent_data: AgentData) -> StopReason:
        if len(agent_data.response_mask) >= self.response_length:
            return StopReason.MAX_RESPONSE_LENGTH
        if "<tool_call>" in self._decode(agent_data.response_ids):
            return StopReason.MAX_TURNS  # verl stopped on a turn limit before running this turn's calls
        return StopReason.ANSWERED

    def _decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)
