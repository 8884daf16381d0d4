"""Per-trajectory budgets and the stop rules that follow from them, for training and evaluation alike.

This is the one home of these rules: ``pixel_agent`` (training and verl-native validation) and the endpoint
evaluation (:mod:`verl_pixel.eval.episode`) both apply them, so they cannot diverge.

Budgets (both in :class:`~verl_pixel.ops.VisualOpsConfig`, i.e. in the tool YAML):

* ``max_operations``: every visual-operation call counts, well-formed or not (malformed JSON, an unknown tool, a
  call the rollout mode refuses). The first call past the budget is answered with a message and not run.
* ``max_images``: images in the conversation, the prompt's images and the tools' outputs together, **not counting
  the sampled frames of the input video**, however they reach the model: as a video (verl's video path), or as
  images (rows whose ``extra_info.num_video_frames`` says their images are the frames, as ``verl-pixel eval
  preprocess --video-layout frames`` writes MVBench and the endpoint runner shows any video, or
  ``crop_video_frames``). So a video question may add ``max_images`` images
  whatever its frame count, in training and in evaluation alike [ours]. When frames are sent as images the
  server must accept ``max_images`` + frames images per prompt (vLLM: ``actor_rollout_ref.rollout.limit_images``).
  A call that needs more room than is left is answered with how many more images fit.

Warn, then end (:class:`WarnThenEnd`): once a turn's calls were refused because a budget is *spent* (the operation
budget, or the image budget with no room left), the model has been told so; if its next turn calls again, the
trajectory ends before those calls run (they are not counted) with ``max_operations`` / ``max_images`` (images win
when both apply). A refusal that leaves room ("only 3 more images fit") is a fixable error, not a warning: the
model may retry with fewer frames.

End at once (``budget_stop: end``, Pixel Reasoner): a turn that calls when the operation budget is used up, or no
image fits any more, ends the trajectory before its calls run, without a warning. Pixel Reasoner's loop
(``experience_maker.py`` line 2246, ``force_terminate = num_toolcalls > 3 or len(images) > max_imgnum``) ends on
the 5th call, so a trajectory runs at most 4 operations; the ending call is not counted here (its
``num_toolcalls`` counts it, which the released-code curiosity variant's ``n_vo`` therefore differs by).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from verl_pixel.ops.config import BudgetStop
from verl_pixel.ops.registry import ImageRegistry
from verl_pixel.ops.result import FailureReason, OperationError
from verl_pixel.record import StopReason

# Failure reason -> stop reason once that budget is spent; the order is the precedence (images win).
LIMIT_STOPS: tuple[tuple[FailureReason, StopReason], ...] = (
    (FailureReason.IMAGE_BUDGET, StopReason.MAX_IMAGES),
    (FailureReason.CALL_BUDGET, StopReason.MAX_OPERATIONS),
)


def counted_images(registry: ImageRegistry) -> int:
    """Images that count against ``max_images``: every numbered image but the input video's frames."""
    return registry.num_images - registry.num_frame_inputs


def image_room(registry: ImageRegistry) -> int:
    """How many more images fit in the conversation."""
    return max(registry.config.max_images - counted_images(registry), 0)


def operations_left(registry: ImageRegistry) -> int:
    """How many more calls the operation budget allows."""
    return max(registry.config.max_operations - registry.operations_attempted, 0)


def count_call(registry: ImageRegistry) -> None:
    """Charge one call (any call the model makes, well-formed or not) to the operation budget."""
    registry.operations_attempted += 1


def check_operation_budget(registry: ImageRegistry) -> None:
    """Refuse the call just counted when it is past ``max_operations``.

    Raises:
        OperationError: ``CALL_BUDGET``, with a message telling the model to answer.
    """
    limit = registry.config.max_operations
    if registry.operations_attempted > limit:
        message = f"you have used all {limit} visual operations allowed; answer with what you have seen"
        raise OperationError(FailureReason.CALL_BUDGET, message)


def check_image_room(registry: ImageRegistry, wanted: int, request: str) -> None:
    """Refuse an operation that would add ``wanted`` images when fewer fit.

    Args:
        registry: the trajectory's images.
        wanted: images the operation would add.
        request: what was asked, for the message (``"target_frames asks for 5 frames"``).

    Raises:
        OperationError: ``IMAGE_BUDGET``, saying how many more images fit (none: the budget is spent).
    """
    room = image_room(registry)
    if wanted <= room:
        return
    if room == 0:
        besides = " besides the video's frames" if registry.num_frames else ""  # a video (or frames as images)
        message = f"this conversation already has {counted_images(registry)} images{besides}, the maximum"
    else:
        message = f"{request} but only {room} more images fit in this conversation"
    raise OperationError(FailureReason.IMAGE_BUDGET, message)


def exhausted_budget_stop(registry: ImageRegistry) -> StopReason | None:
    """The stop reason for a further call when a budget is used up (images win), else ``None``."""
    if image_room(registry) == 0:
        return StopReason.MAX_IMAGES
    if operations_left(registry) == 0:
        return StopReason.MAX_OPERATIONS
    return None


def spent_budget_stop(registry: ImageRegistry, reasons: Iterable[str | None]) -> StopReason | None:
    """The stop reason a further call gets after a turn whose calls failed for ``reasons``, or ``None``.

    Only a refusal for a budget that is really spent counts: an image-budget refusal while room is left can be
    fixed by asking for fewer images.
    """
    failed = {FailureReason(reason) for reason in reasons if reason}
    spent = {
        FailureReason.IMAGE_BUDGET: image_room(registry) == 0,
        FailureReason.CALL_BUDGET: operations_left(registry) == 0,
    }
    for reason, stop in LIMIT_STOPS:
        if reason in failed and spent[reason]:
            return stop
    return None


@dataclasses.dataclass
class WarnThenEnd:
    """The warn-then-end rule of one trajectory (module docstring).

    Attributes:
        stop: set once the model was told a budget is spent: the stop reason its next call ends the trajectory with.
    """

    stop: StopReason | None = None

    def after_tool_turn(self, registry: ImageRegistry | None, reasons: Iterable[str | None]) -> None:
        """Record a turn's failure reasons (``registry`` is the trajectory's, ``None`` if no call ran)."""
        if self.stop is None and registry is not None:
            self.stop = spent_budget_stop(registry, reasons)

    def stop_before_calls(self, registry: ImageRegistry | None = None) -> StopReason | None:
        """The stop reason for a turn that calls, else ``None`` (run its calls).

        Args:
            registry: the trajectory's images (``None`` before its first call): with ``budget_stop: end`` a call
                ends the trajectory as soon as a budget is used up, warned or not.
        """
        if self.stop is None and registry is not None and registry.config.budget_stop is BudgetStop.END:
            return exhausted_budget_stop(registry)
        return self.stop
