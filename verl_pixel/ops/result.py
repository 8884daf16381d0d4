"""The outcome of one visual-operation call, and why a call failed."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from enum import Enum
from typing import Any

from PIL import Image

logger = logging.getLogger(__name__)

INTERNAL_ERROR_MESSAGE = "{operation} failed on an unreadable image or an internal error; try a different call"


class FailureReason(str, Enum):
    """Why a call was answered with an error message (recorded in the tool metrics)."""

    BAD_JSON = "bad_json"  # the <tool_call> body is not a JSON object of the expected shape
    UNKNOWN_TOOL = "unknown_tool"
    MISSING_ARGUMENT = "missing_argument"
    UNEXPECTED_ARGUMENT = "unexpected_argument"
    BAD_TYPE = "bad_type"  # wrong JSON type, bool, NaN/inf, huge number, nested list
    OUT_OF_RANGE = "out_of_range"  # an index or coordinate outside what exists
    DEGENERATE_BOX = "degenerate_box"  # zero-area / inverted box, or a box outside the image
    BAD_ASPECT = "bad_aspect"  # aspect ratio above the processor's limit
    WRONG_MODALITY = "wrong_modality"  # select_frames without a video, crop without an image
    TOO_MANY_FRAMES = "too_many_frames"
    DUPLICATE_FRAMES = "duplicate_frames"
    CALL_BUDGET = "call_budget"  # more operations than allowed per trajectory
    IMAGE_BUDGET = "image_budget"  # more images than allowed per trajectory
    NOT_ALLOWED = "not_allowed"  # tools refused in this rollout (no_tool mode, decided by the agent loop)
    INTERNAL = "internal"  # a bug or unreadable image; logged with a traceback


class OperationError(Exception):
    """Raised inside the operation layer and turned into a failed :class:`OperationResult` at its boundary."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclasses.dataclass(frozen=True)
class OperationResult:
    """What a call produced.

    Attributes:
        operation: canonical operation name (``crop_image`` / ``select_frames``), or the raw name if unknown.
        ok: whether the call returned images.
        images: the new images, already resized to the model's budget.
        image_numbers: the 1-based numbers the new images got (inputs first, then every tool output).
        message: the error message for the model (empty on success).
        reason: why the call failed (``None`` on success).
        target_image: the image a crop was cut from (crop only).
        region: the crop's box in the stored original's pixels (crop only).
        frames: the selected 1-based frame numbers (select_frames only).
    """

    operation: str
    ok: bool
    images: tuple[Image.Image, ...] = ()
    image_numbers: tuple[int, ...] = ()
    message: str = ""
    reason: FailureReason | None = None
    target_image: int | None = None
    region: tuple[int, int, int, int] | None = None
    frames: tuple[int, ...] = ()

    @classmethod
    def failure(cls, operation: str, reason: FailureReason, message: str) -> OperationResult:
        """A failed call with a message for the model."""
        return cls(operation=operation, ok=False, message=message, reason=reason)

    def to_event(self) -> dict[str, Any]:
        """Plain-Python metrics of this call, as stored per trajectory (see ``events.summarize_events``)."""
        return {
            "operation": self.operation,
            "ok": self.ok,
            "reason": self.reason.value if self.reason is not None else "",
            "images_added": len(self.images),
            "pixels_added": sum(image.width * image.height for image in self.images),
        }


def run_guarded(operation: str, body: Callable[[], OperationResult]) -> OperationResult:
    """Run an operation so that nothing raises out of the operation layer.

    An :class:`OperationError` becomes its message for the model; anything else is a bug or an unreadable image,
    logged with its traceback and answered with a generic message (the model cannot fix it by re-phrasing).
    """
    try:
        return body()
    except OperationError as err:
        return OperationResult.failure(operation, err.reason, err.message)
    except Exception:
        logger.exception("visual operation %s failed", operation)
        return OperationResult.failure(
            operation, FailureReason.INTERNAL, INTERNAL_ERROR_MESSAGE.format(operation=operation)
        )
