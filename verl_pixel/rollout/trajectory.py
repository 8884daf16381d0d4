"""Building a rollout's :class:`~verl_pixel.record.TrajectoryRecord` from what the loop observed (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from verl_pixel.ops import summarize_events
from verl_pixel.record import RolloutMode, StopReason, TrajectoryRecord
from verl_pixel.rollout.modes import complied


@dataclasses.dataclass
class TurnOutcome:
    """Mutable bookkeeping of one trajectory, filled in by the agent loop's state handlers.

    Attributes:
        turns: assistant turns generated.
        input_images: images in the prompt.
        events_merged: tool events whose outputs reached the conversation (a tool turn verl refused to append
            because it would overflow the response is not counted).
        limit_warned: the model has already been told that its operation or image budget is spent.
        limit_stop: the stop reason to use if it calls again after that warning.
        stop_reason: why the trajectory ended.
        answer_text: the final assistant turn's text without tool-call blocks.
    """

    turns: int = 0
    input_images: int = 0
    events_merged: int = 0
    limit_warned: bool = False
    limit_stop: StopReason = StopReason.MAX_OPERATIONS
    stop_reason: StopReason = StopReason.ANSWERED
    answer_text: str = ""


def build_record(
    *,
    mode: RolloutMode,
    events: Sequence[Mapping[str, Any]],
    outcome: TurnOutcome,
    response_ids: Sequence[int],
    response_mask: Sequence[int],
    image_pad_id: int,
) -> TrajectoryRecord:
    """Summarize a finished rollout.

    Args:
        mode: the rollout's mode.
        events: per-call tool metrics of the calls whose outputs reached the model.
        outcome: the loop's bookkeeping.
        response_ids: the final response tokens (model and tool tokens).
        response_mask: 1 on model tokens, 0 on tool tokens.
        image_pad_id: id of ``<|image_pad|>``.
    """
    summary = summarize_events(events)
    tool_visual_tokens = sum(
        1 for token, mask in zip(response_ids, response_mask, strict=False) if mask == 0 and token == image_pad_id
    )
    return TrajectoryRecord(
        mode=mode,
        complied=complied(mode, summary["attempted"], summary["succeeded"]),
        ops_attempted=summary["attempted"],
        ops_succeeded=summary["succeeded"],
        ops_failed=summary["failed"],
        turns=outcome.turns,
        images_added=summary["images_added"],
        tool_visual_tokens=tool_visual_tokens,
        stop_reason=outcome.stop_reason,
        answer_text=(outcome.answer_text or "").strip(),
    )
