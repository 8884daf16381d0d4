"""Validation of tool-call arguments, each failure phrased for the model: which argument, what is allowed.

Arguments come from JSON the model wrote, so anything can arrive: strings for numbers, booleans (a ``bool`` is an
``int`` in Python and must be rejected explicitly), NaN / Infinity (Python's json accepts them), integers too large
for a float, nested lists. Messages stay short because verl truncates tool text (256 characters by default).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

from verl_pixel.ops.config import MAX_ABS_COORDINATE
from verl_pixel.ops.result import FailureReason, OperationError

_MAX_SHOWN_CHARS = 40


def show(value: Any) -> str:
    """Short JSON-like rendering of a bad value for an error message."""
    try:
        text = json.dumps(value, allow_nan=True, default=repr)
    except (TypeError, ValueError, OverflowError, RecursionError):
        # Integers past Python's 4300-digit str() limit cannot even be repr()'d.
        text = "a huge number" if isinstance(value, int) else f"a {type(value).__name__}"
    return text if len(text) <= _MAX_SHOWN_CHARS else text[: _MAX_SHOWN_CHARS - 3] + "..."


def check_argument_names(
    operation: str, arguments: Any, required: Collection[str], optional: Collection[str], usage: str
) -> None:
    """Reject a non-object, a missing required argument or an unknown one.

    Args:
        operation: canonical operation name, for the message.
        arguments: the decoded ``arguments`` object.
        required: argument names that must be present.
        optional: argument names that may be present.
        usage: a one-line signature shown with every error, e.g. ``crop_image(bbox_2d=[x1, y1, x2, y2], ...)``.

    Raises:
        OperationError: naming the offending argument.
    """
    if not isinstance(arguments, Mapping):
        raise OperationError(
            FailureReason.BAD_TYPE, f"{operation} arguments must be a JSON object, got {show(arguments)}. {usage}"
        )
    for name in required:
        if name not in arguments:
            raise OperationError(FailureReason.MISSING_ARGUMENT, f"{operation} is missing {name}. {usage}")
    allowed = set(required) | set(optional)
    extra = sorted(str(name) for name in arguments if name not in allowed)
    if extra:
        raise OperationError(
            FailureReason.UNEXPECTED_ARGUMENT,
            f"{operation} got unknown argument {show(extra[0])}; allowed: {', '.join(sorted(allowed))}. {usage}",
        )


def read_whole_number(name: str, value: Any, low: int, high: int, what: str) -> int:
    """Read an integer in ``[low, high]``; a float with an integral value (``2.0``) is accepted.

    Args:
        name: argument name for the message (``target_image``, ``target_frames[1]``).
        value: the decoded JSON value.
        low: smallest allowed value.
        high: largest allowed value.
        what: what the number counts, for the message (``images so far``).

    Raises:
        OperationError: BAD_TYPE for non-integers, OUT_OF_RANGE outside the range.
    """
    allowed = f"a whole number from {low} to {high} ({what})"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OperationError(FailureReason.BAD_TYPE, f"{name} must be {allowed}, got {show(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise OperationError(FailureReason.BAD_TYPE, f"{name} must be {allowed}, got {show(value)}")
    number = int(value)
    if not low <= number <= high:
        raise OperationError(FailureReason.OUT_OF_RANGE, f"{name} must be {allowed}, got {number}")
    return number


def read_coordinate(name: str, value: Any, hint: str) -> float:
    """Read one finite coordinate of plausible magnitude.

    Raises:
        OperationError: BAD_TYPE for non-numbers, NaN / inf, or magnitudes above ``MAX_ABS_COORDINATE``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OperationError(FailureReason.BAD_TYPE, f"{name} must be a number, got {show(value)}. {hint}")
    # Compare before float(): an arbitrarily large JSON integer would overflow the conversion.
    if isinstance(value, float) and not math.isfinite(value):
        raise OperationError(FailureReason.BAD_TYPE, f"{name} must be a finite number, got {show(value)}. {hint}")
    if abs(value) > MAX_ABS_COORDINATE:
        raise OperationError(FailureReason.OUT_OF_RANGE, f"{name} = {show(value)} is far outside the image. {hint}")
    return float(value)


def read_box_values(name: str, value: Any, hint: str) -> tuple[float, float, float, float]:
    """Read ``[x1, y1, x2, y2]``: a list of exactly four finite numbers.

    Args:
        name: argument name (``bbox_2d``).
        value: the decoded JSON value.
        hint: the allowed range in the configured convention, appended to every message.

    Raises:
        OperationError: naming the argument or the offending element.
    """
    if not isinstance(value, list | tuple):
        raise OperationError(
            FailureReason.BAD_TYPE, f"{name} must be a list of 4 numbers [x1, y1, x2, y2], got {show(value)}. {hint}"
        )
    if len(value) != 4:
        raise OperationError(
            FailureReason.BAD_TYPE, f"{name} must have 4 numbers [x1, y1, x2, y2], got {len(value)}. {hint}"
        )
    x1, y1, x2, y2 = (read_coordinate(f"{name}[{index}]", item, hint) for index, item in enumerate(value))
    return x1, y1, x2, y2


def read_frame_numbers(name: str, value: Any, num_frames: int, max_per_call: int) -> tuple[int, ...]:
    """Read a non-empty list of distinct 1-based frame numbers, at most ``max_per_call`` of them.

    Raises:
        OperationError: BAD_TYPE / OUT_OF_RANGE / TOO_MANY_FRAMES / DUPLICATE_FRAMES, naming the argument.
    """
    allowed = f"a list of 1 to {max_per_call} different frame numbers from 1 to {num_frames}"
    if not isinstance(value, list | tuple) or not value:
        raise OperationError(FailureReason.BAD_TYPE, f"{name} must be {allowed}, got {show(value)}")
    if len(value) > max_per_call:
        raise OperationError(
            FailureReason.TOO_MANY_FRAMES,
            f"{name} has {len(value)} frames; pick at most {max_per_call} per call (frames 1 to {num_frames})",
        )
    frames = tuple(
        read_whole_number(f"{name}[{index}]", item, 1, num_frames, "frames of the video")
        for index, item in enumerate(value)
    )
    repeated = sorted({frame for frame in frames if frames.count(frame) > 1})
    if repeated:
        raise OperationError(
            FailureReason.DUPLICATE_FRAMES, f"{name} lists frame {repeated[0]} more than once; must be {allowed}"
        )
    return frames
