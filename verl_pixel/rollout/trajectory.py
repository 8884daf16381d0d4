"""A rollout's :class:`~verl_pixel.record.TrajectoryRecord`, built in one place for training and evaluation (pure).

``pixel_agent`` (:mod:`verl_pixel.rollout.agent_loop`) and the endpoint episode (:mod:`verl_pixel.eval.episode`)
both keep a :class:`TurnOutcome` while they run and call :func:`build_record` at the end; the budgets and the
warn-then-end rule they apply are :mod:`verl_pixel.ops.budgets`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from verl_pixel.ops import WarnThenEnd, summarize_events
from verl_pixel.record import RolloutMode, StopReason, TrajectoryRecord
from verl_pixel.rollout.modes import complied


@dataclasses.dataclass
class TurnOutcome:
    """Mutable bookkeeping of one trajectory, filled in turn by turn.

    Attributes:
        turns: assistant turns generated.
        events: per-call tool metrics (:meth:`~verl_pixel.ops.OperationResult.to_event`) of the calls whose
            outputs reached the model.
        budget: the warn-then-end rule's state.
        stop_reason: why the trajectory ended.
        answer_text: the final assistant turn's text without tool-call blocks.
    """

    turns: int = 0
    events: list[Mapping[str, Any]] = dataclasses.field(default_factory=list)
    budget: WarnThenEnd = dataclasses.field(default_factory=WarnThenEnd)
    stop_reason: StopReason = StopReason.ANSWERED
    answer_text: str = ""


def tool_image_tokens(response_ids: Sequence[int], response_mask: Sequence[int], image_pad_id: int) -> int:
    """``<|image_pad|>`` tokens among the tool tokens (mask 0) of a response: the visual tokens tools added."""
    pairs = zip(response_ids, response_mask, strict=False)
    return sum(1 for token, mask in pairs if mask == 0 and token == image_pad_id)


def has_video_input(messages: Sequence[Mapping[str, Any]], frame_images: int = 0) -> bool:
    """Whether a prompt's visual input is a video: a ``video`` content item, or images that are sampled frames.

    Args:
        messages: the prompt's messages (content lists as verl's datasets build them).
        frame_images: the row's ``extra_info.num_video_frames`` (frames given as images).
    """
    if frame_images > 0:
        return True
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list) and any(isinstance(i, Mapping) and i.get("type") == "video" for i in content):
            return True
    return False


def build_record(
    mode: RolloutMode, outcome: TurnOutcome, tool_visual_tokens: int, video_input: bool = False
) -> TrajectoryRecord:
    """Summarize a finished rollout.

    Args:
        mode: the rollout's mode.
        outcome: what the loop observed.
        tool_visual_tokens: visual tokens of the images tools added (counted from the response's tokens in
            training, from the images' sizes by the endpoint episode).
        video_input: the prompt's visual input is a video (:func:`has_video_input`).
    """
    summary = summarize_events(outcome.events)
    # The calls whose outputs reached the model, in order: the last one failing means the trajectory ended right
    # after an error the model did not fix (Pixel Reasoner's final_error_flags, experience_maker.py, whose flag
    # is reset by every executed call and read when the trajectory finishes).
    last_call_failed = bool(outcome.events) and not outcome.events[-1].get("ok")
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
        last_call_failed=last_call_failed,
        video_input=video_input,
    )
