"""Per-trajectory state of the pixel tools, kept on verl's ``AgentData`` (never on the shared tool instances).

verl builds each tool once per agent-loop worker and shares it between all concurrent trajectories, and creates
a fresh ``instance_id`` for every single call, so state that must survive from one call to the next (image
numbering, the original-image mapping, the call budget) lives on the trajectory's ``AgentData``:

* ``agent_data._verl_pixel_session`` (:data:`SESSION_ATTRIBUTE`): a :class:`TrajectorySession` holding the
  :class:`~verl_pixel.ops.ImageRegistry` and a lock. It is an attribute, not an ``extra_fields`` entry, because
  ``extra_fields`` is copied into the training batch and must stay plain data. Both tools share it, so crops
  and selected frames are numbered in one sequence.
* ``agent_data.extra_fields["pixel/tool_events"]`` (:data:`TOOL_EVENTS_KEY`): one plain dict per call
  (``operation``, ``ok``, ``reason``, ``images_added``, ``pixels_added``), because verl discards the metrics
  ``execute`` returns. The agent loop collects them with :func:`pop_tool_events` (or leaves them in the output,
  where they are plain JSON) and aggregates with :func:`verl_pixel.ops.summarize_events`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Collection
from typing import Any

from verl_pixel.ops import (
    ImageRegistry,
    MalformedToolCall,
    OperationResult,
    ToolCall,
    VisualOpsConfig,
    run_operation,
    run_tool_call,
)
from verl_pixel.tools.originals import first_video_frames, load_originals

logger = logging.getLogger(__name__)

SESSION_ATTRIBUTE = "_verl_pixel_session"
TOOL_EVENTS_KEY = "pixel/tool_events"


@dataclasses.dataclass
class TrajectorySession:
    """Operation state of one trajectory.

    Attributes:
        config: the config of the tool that opened the session (all pixel tools should share one).
        lock: serialises the trajectory's calls so parallel calls are numbered in call order, the order in which
            verl appends their images to the conversation.
        registry: built on the first call, from the images the trajectory had at that point.
    """

    config: VisualOpsConfig
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    registry: ImageRegistry | None = None


def session_for(agent_data: Any, config: VisualOpsConfig) -> TrajectorySession:
    """The trajectory's session, opened on first use (call from the event loop, not from a worker thread)."""
    session = getattr(agent_data, SESSION_ATTRIBUTE, None)
    if session is None:
        session = TrajectorySession(config)
        setattr(agent_data, SESSION_ATTRIBUTE, session)
    elif session.config != config:
        logger.warning("pixel tools configured differently; this trajectory keeps the first tool's config")
    return session


def build_registry(agent_data: Any, config: VisualOpsConfig) -> ImageRegistry:
    """Registry of the trajectory's input images, their originals and its video frames (does file I/O)."""
    model_images = list(getattr(agent_data, "image_data", None) or [])
    originals = load_originals(agent_data, len(model_images))
    return ImageRegistry.from_inputs(config, model_images, originals, first_video_frames(agent_data))


def run_in_session(session: TrajectorySession, agent_data: Any, operation: str, arguments: Any) -> OperationResult:
    """Run one operation for the trajectory; meant for a worker thread while the caller holds ``session.lock``."""
    if session.registry is None:
        session.registry = build_registry(agent_data, session.config)
    session.registry.sync(list(getattr(agent_data, "image_data", None) or []))
    return run_operation(session.registry, operation, arguments)


def record_event(agent_data: Any, result: OperationResult) -> None:
    """Append the call's metrics to ``agent_data.extra_fields[TOOL_EVENTS_KEY]``."""
    extra_fields = getattr(agent_data, "extra_fields", None)
    if isinstance(extra_fields, dict):
        extra_fields.setdefault(TOOL_EVENTS_KEY, []).append(result.to_event())


def pop_tool_events(extra_fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Remove and return a trajectory's tool events (for the agent loop, before it builds its record)."""
    return list(extra_fields.pop(TOOL_EVENTS_KEY, None) or [])


def answer_in_session(
    session: TrajectorySession, agent_data: Any, call: ToolCall | MalformedToolCall, available: Collection[str]
) -> OperationResult:
    """Answer a call the agent loop handles itself (malformed, unknown, or refused by the rollout mode).

    It counts against the trajectory's call budget like any other call, so the numbering and limits stay
    consistent with the tools'. Meant for a worker thread while the caller holds ``session.lock``.
    """
    if session.registry is None:
        session.registry = build_registry(agent_data, session.config)
    return run_tool_call(session.registry, call, available)
