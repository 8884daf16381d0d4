"""verl ``BaseTool`` adapters for crop_image and select_frames: thin wrappers over :mod:`verl_pixel.ops`.

Load them with verl's tool loader from ``verl_pixel/configs/tools/pixel_tools.yaml``
(``actor_rollout_ref.rollout.multi_turn.tool_config_path``). Each ``execute`` answers the call through
:func:`verl_pixel.tools.session.answer_call` (the one path every call of a trajectory takes, also the ``pixel_agent``
loop's own answers: session, budgets, worker thread, metrics) and returns ``ToolResponse(image=[...], text=...)``;
errors come back as text for the model, never as exceptions.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from verl.tools.base_tool import BaseTool
from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse

from verl_pixel.ops import (
    CROP_TOOL_NAME,
    SELECT_FRAMES_TOOL_NAME,
    FailureReason,
    OperationResult,
    OutputStyle,
    ToolCall,
    VisualOpsConfig,
    crop_tool_schema,
    result_text,
    select_frames_tool_schema,
)
from verl_pixel.tools.session import answer_call

logger = logging.getLogger(__name__)

NO_AGENT_DATA_MESSAGE = "{operation} is unavailable: the agent loop passed no agent_data"
TOOL_REWARD = 0.0  # the operation layer gives no step reward; rewards are computed per trajectory


def tool_response(result: OperationResult, style: OutputStyle) -> ToolResponse:
    """verl's ``ToolResponse`` for a call's result: its images (if any) and its text in ``style``."""
    text = result_text(result, style)
    if result.images:
        return ToolResponse(image=list(result.images), text=text)
    return ToolResponse(text=text)


class PixelOperationTool(BaseTool):
    """Common adapter: subclasses name the operation and its schema generator."""

    operation: ClassVar[str]

    def __init__(self, config: dict[str, Any], tool_schema: OpenAIFunctionToolSchema | None) -> None:
        """Build from a verl tool config block.

        Args:
            config: the YAML ``config`` mapping: ``type: native`` plus :class:`VisualOpsConfig` fields.
            tool_schema: the YAML ``tool_schema``; generated from ``config`` when absent.

        Raises:
            ValueError: on an unknown or invalid config key (at load time, not during rollouts).
        """
        self.ops_config = VisualOpsConfig.from_mapping(config or {}, path=f"{self.operation} tool: config.")
        generated = OpenAIFunctionToolSchema.model_validate(self.schema_for(self.ops_config))
        if tool_schema is None:
            tool_schema = generated
        elif tool_schema.function.description != generated.function.description:
            logger.warning(
                "tool_schema of %s differs from the one generated for its config (coordinates=%s); "
                "regenerate with `python -m verl_pixel.tools.schema_yaml`",
                tool_schema.function.name,
                self.ops_config.coordinates.value,
            )
        super().__init__(config, tool_schema)

    @classmethod
    def schema_for(cls, config: VisualOpsConfig) -> dict[str, Any]:
        """The OpenAI function schema this tool advertises under ``config``."""
        raise NotImplementedError

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[ToolResponse, float, dict]:
        """Run the operation for the calling trajectory.

        Args:
            instance_id: verl's per-call id (unused: state is per trajectory, on ``agent_data``).
            parameters: the decoded call arguments.
            **kwargs: ``agent_data``, verl's ``AgentData`` of the calling trajectory.

        Returns:
            ``(ToolResponse, reward, metrics)``; verl keeps the response and the reward and drops the metrics,
            which are therefore also recorded on ``agent_data``.
        """
        agent_data = kwargs.get("agent_data")
        if agent_data is None:
            message = NO_AGENT_DATA_MESSAGE.format(operation=self.operation)
            result = OperationResult.failure(self.operation, FailureReason.INTERNAL, message)
        else:
            result = await answer_call(agent_data, self.ops_config, ToolCall(self.operation, parameters))
        return tool_response(result, self.ops_config.output_style), TOOL_REWARD, result.to_event()


class CropImageTool(PixelOperationTool):
    """``crop_image``: crop a numbered image (cut from the stored original by default)."""

    operation = CROP_TOOL_NAME

    @classmethod
    def schema_for(cls, config: VisualOpsConfig) -> dict[str, Any]:
        """Crop schema describing ``config``'s coordinate convention."""
        return crop_tool_schema(config)


class SelectFramesTool(PixelOperationTool):
    """``select_frames``: return chosen sampled frames of the input video as images."""

    operation = SELECT_FRAMES_TOOL_NAME

    @classmethod
    def schema_for(cls, config: VisualOpsConfig) -> dict[str, Any]:
        """Frame-selection schema."""
        return select_frames_tool_schema(config)
