"""One entry point for a visual-operation call by name: aliases, availability, the per-trajectory call budget."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from verl_pixel.ops.arguments import show
from verl_pixel.ops.budgets import check_operation_budget, count_call
from verl_pixel.ops.config import CROP_TOOL_ALIASES, CROP_TOOL_NAME, SELECT_FRAMES_TOOL_NAME
from verl_pixel.ops.crop import crop_image
from verl_pixel.ops.frames import select_frames
from verl_pixel.ops.registry import ImageRegistry
from verl_pixel.ops.result import FailureReason, OperationResult, run_guarded
from verl_pixel.ops.tool_call import MalformedToolCall, ToolCall

OPERATIONS = (CROP_TOOL_NAME, SELECT_FRAMES_TOOL_NAME)
UNKNOWN_OPERATION = "unknown"  # metrics label for calls whose name is not an operation (keeps events small)


def canonical_operation(name: Any) -> str | None:
    """Canonical operation name for a tool name the model used (any crop alias -> ``crop_image``), else None."""
    if not isinstance(name, str):
        return None
    if name in CROP_TOOL_ALIASES:
        return CROP_TOOL_NAME
    return name if name in OPERATIONS else None


def run_operation(
    registry: ImageRegistry, name: Any, arguments: Any, available: Collection[str] = OPERATIONS
) -> OperationResult:
    """Execute one call; never raises. Every call counts against ``max_operations``, well-formed or not.

    Args:
        registry: the trajectory's images (grown on success).
        name: the tool name the model wrote (aliases accepted).
        arguments: the decoded ``arguments`` object.
        available: canonical operations offered in this rollout; an empty collection refuses every call
            (``no_tool`` mode) with a message saying so.
    """
    label = canonical_operation(name) or UNKNOWN_OPERATION
    return run_guarded(label, lambda: _run(registry, name, arguments, available))


def _run(registry: ImageRegistry, name: Any, arguments: Any, available: Collection[str]) -> OperationResult:
    count_call(registry)
    operation = canonical_operation(name)
    if not available:
        return OperationResult.failure(
            operation or UNKNOWN_OPERATION,
            FailureReason.NOT_ALLOWED,
            "no visual operations are available here; answer from the images you have",
        )
    if operation is None or operation not in available:
        return OperationResult.failure(
            UNKNOWN_OPERATION,
            FailureReason.UNKNOWN_TOOL,
            f"unknown tool {show(name)}; available: {', '.join(available)}",
        )
    check_operation_budget(registry)  # raises CALL_BUDGET, answered by run_guarded
    if operation == CROP_TOOL_NAME:
        return crop_image(registry, arguments)
    return select_frames(registry, arguments)


def run_tool_call(
    registry: ImageRegistry, call: ToolCall | MalformedToolCall, available: Collection[str] = OPERATIONS
) -> OperationResult:
    """Execute a parsed ``<tool_call>``; a malformed one is answered with its parse error and counts as a call."""
    if isinstance(call, MalformedToolCall):
        count_call(registry)
        return OperationResult.failure(canonical_operation(call.name) or UNKNOWN_OPERATION, call.reason, call.message)
    return run_operation(registry, call.name, call.arguments, available)
