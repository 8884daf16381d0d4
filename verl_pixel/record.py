"""The per-trajectory record: the one place where its field names and types are defined.

The ``pixel_agent`` agent loop writes one :class:`TrajectoryRecord` per rollout into verl's
``AgentLoopOutput.extra_fields`` (flattened with the ``pixel/`` prefix, see :meth:`TrajectoryRecord.to_extra_fields`),
verl carries ``extra_fields`` into the batch's non-tensor fields and the reward manager's ``extra_info``, and the
reward side reads it back with :meth:`TrajectoryRecord.from_mapping`. Keeping the schema in this pure module lets the
reward core be tested with hand-made records before any rollout exists.

Fields (METHOD.md §2):

=====================  ========  ===========================================================================
name                   type      meaning
=====================  ========  ===========================================================================
``mode``               str       rollout mode: ``adaptive`` | ``force_tool`` | ``no_tool``
``complied``           bool      the rollout obeyed its mode (force_tool: >=1 successful op; no_tool: no call)
``ops_attempted``      int       visual-operation calls the model made (well-formed or not)
``ops_succeeded``      int       calls that returned images
``ops_failed``         int       calls answered with an error message
``turns``              int       assistant turns generated
``images_added``       int       images appended by tools
``tool_visual_tokens`` int       ``<|image_pad|>`` tokens appended by tools
``stop_reason``        str       why the trajectory ended (see :class:`StopReason`)
``answer_text``        str       the final assistant message's text (the answer is extracted from it)
``last_call_failed``   bool      the last call answered before the end failed: the model answered (or stopped)
                                 right after an error it did not fix (Pixel Reasoner's ``final_error_flags``)
``video_input``        bool      the prompt's visual input is a video (its sampled frames), not images
=====================  ========  ===========================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any

EXTRA_FIELD_PREFIX = "pixel/"


class RolloutMode(str, Enum):
    """How a rollout may use visual operations (METHOD.md §2)."""

    ADAPTIVE = "adaptive"
    FORCE_TOOL = "force_tool"
    NO_TOOL = "no_tool"


class StopReason(str, Enum):
    """Why a trajectory ended."""

    ANSWERED = "answered"  # the model produced a final message without a tool call
    MAX_RESPONSE_LENGTH = "max_response_length"
    MAX_OPERATIONS = "max_operations"
    MAX_IMAGES = "max_images"
    MAX_TURNS = "max_turns"
    ABORTED = "aborted"


@dataclasses.dataclass(frozen=True)
class TrajectoryRecord:
    """What one rollout did, as the reward and the metrics need it."""

    mode: RolloutMode = RolloutMode.ADAPTIVE
    complied: bool = True
    ops_attempted: int = 0
    ops_succeeded: int = 0
    ops_failed: int = 0
    turns: int = 1
    images_added: int = 0
    tool_visual_tokens: int = 0
    stop_reason: StopReason = StopReason.ANSWERED
    answer_text: str = ""
    last_call_failed: bool = False
    video_input: bool = False

    @property
    def used_tool(self) -> bool:
        """Whether the rollout made at least one successful visual operation (the TUR/RaPR definition)."""
        return self.ops_succeeded > 0

    def to_extra_fields(self) -> dict[str, Any]:
        """Flatten to plain Python scalars under the ``pixel/`` prefix, as stored in verl's ``extra_fields``."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[EXTRA_FIELD_PREFIX + field.name] = value.value if isinstance(value, Enum) else value
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TrajectoryRecord:
        """Read a record back from prefixed ``extra_fields`` / ``extra_info`` (unknown keys are ignored).

        Missing fields keep their defaults, so a trajectory produced by another agent loop scores as an adaptive
        rollout without operations.

        Raises:
            ValueError: if a present field has a value of the wrong kind (names the field).
        """
        kwargs: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            key = EXTRA_FIELD_PREFIX + field.name
            if key not in data or data[key] is None:
                continue
            kwargs[field.name] = _coerce(field.name, data[key])
        return cls(**kwargs)


_BOOL_FIELDS = {"complied", "last_call_failed", "video_input"}
_INT_FIELDS = {"ops_attempted", "ops_succeeded", "ops_failed", "turns", "images_added", "tool_visual_tokens"}


def _coerce(name: str, value: Any) -> Any:
    """Convert one stored value (often a numpy scalar after a trip through a DataProto) to the field's type."""
    try:
        if name == "mode":
            return RolloutMode(str(value))
        if name == "stop_reason":
            return StopReason(str(value))
        if name in _BOOL_FIELDS:
            return bool(value)
        if name in _INT_FIELDS:
            return int(value)
        return str(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"trajectory record field {EXTRA_FIELD_PREFIX}{name}: cannot read {value!r} ({err})") from err
