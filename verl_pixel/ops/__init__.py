"""Visual operations (crop / zoom, frame selection) as pure functions: no verl import anywhere in this package.

Typical use by an agent loop, one registry per trajectory::

    registry = ImageRegistry.from_inputs(config, model_images, originals, video_frames)
    turn = parse_tool_calls(assistant_text)
    results = [run_tool_call(registry, call) for call in turn.calls]
    messages = render_tool_outputs(results, config.output_style)
"""

from verl_pixel.ops.budgets import WarnThenEnd, counted_images, image_room, spent_budget_stop
from verl_pixel.ops.config import (
    CROP_TOOL_ALIASES,
    CROP_TOOL_NAME,
    SELECT_FRAMES_TOOL_NAME,
    CoordinateConvention,
    CropSource,
    OutputStyle,
    VisualOpsConfig,
)
from verl_pixel.ops.coords import Box, resolve_convention
from verl_pixel.ops.crop import crop_image
from verl_pixel.ops.dispatch import OPERATIONS, canonical_operation, run_operation, run_tool_call
from verl_pixel.ops.events import summarize_events
from verl_pixel.ops.frames import frames_from_array, select_frames
from verl_pixel.ops.registry import ImageKind, ImageRegistry, ImageView
from verl_pixel.ops.render import render_tool_output, render_tool_outputs, result_text
from verl_pixel.ops.resize import fit_to_budget, resize_to_budget
from verl_pixel.ops.result import FailureReason, OperationResult
from verl_pixel.ops.schema import crop_tool_schema, select_frames_tool_schema, tool_schemas
from verl_pixel.ops.tool_call import MalformedToolCall, ParsedTurn, ToolCall, parse_tool_calls

__all__ = [
    "CROP_TOOL_ALIASES",
    "CROP_TOOL_NAME",
    "OPERATIONS",
    "SELECT_FRAMES_TOOL_NAME",
    "Box",
    "CoordinateConvention",
    "CropSource",
    "FailureReason",
    "ImageKind",
    "ImageRegistry",
    "ImageView",
    "MalformedToolCall",
    "OperationResult",
    "OutputStyle",
    "ParsedTurn",
    "ToolCall",
    "VisualOpsConfig",
    "WarnThenEnd",
    "canonical_operation",
    "counted_images",
    "crop_image",
    "crop_tool_schema",
    "fit_to_budget",
    "frames_from_array",
    "image_room",
    "parse_tool_calls",
    "render_tool_output",
    "render_tool_outputs",
    "resize_to_budget",
    "resolve_convention",
    "result_text",
    "run_operation",
    "run_tool_call",
    "select_frames",
    "select_frames_tool_schema",
    "spent_budget_stop",
    "summarize_events",
    "tool_schemas",
]
