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

Every call is answered by :func:`answer_call`, whoever handles it: the tools' ``execute`` (well-formed calls of an
offered operation) and the ``pixel_agent`` loop (malformed calls, unknown tools, calls its rollout mode refuses).
It syncs the registry with the conversation's images, counts the call against the budgets, runs the operation
off the event loop and records the call's event, so every call follows the same rules.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Collection
from typing import Any

from verl_pixel.ops import ImageRegistry, MalformedToolCall, OperationResult, ToolCall, VisualOpsConfig
from verl_pixel.ops.dispatch import OPERATIONS, UNKNOWN_OPERATION, canonical_operation, run_tool_call
from verl_pixel.ops.result import run_guarded
from verl_pixel.tools.originals import first_video_frames, load_originals

logger = logging.getLogger(__name__)

SESSION_ATTRIBUTE = "_verl_pixel_session"
TOOL_EVENTS_KEY = "pixel/tool_events"


@dataclasses.dataclass
class TrajectorySession:
    """Operation state of one trajectory.

    Attributes:
        config: the config of the tool that opened the session (all pixel tools should share one).
        frame_images: how many of the prompt's images are the input video's sampled frames (the row's
            ``extra_info.num_video_frames``, set by the ``pixel_agent`` loop; 0 when the images are images).
        lock: serialises the trajectory's calls so parallel calls are numbered in call order, the order in which
            verl appends their images to the conversation.
        registry: built on the first call, from the images the trajectory had at that point.
    """

    config: VisualOpsConfig
    frame_images: int = 0
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    registry: ImageRegistry | None = None


def session_for(agent_data: Any, config: VisualOpsConfig, frame_images: int = 0) -> TrajectorySession:
    """The trajectory's session, opened on first use (call from the event loop, not from a worker thread).

    Args:
        agent_data: verl's ``AgentData`` of the trajectory.
        config: the calling tool's operation config.
        frame_images: see :class:`TrajectorySession`; only used when this call opens the session.
    """
    session = getattr(agent_data, SESSION_ATTRIBUTE, None)
    if session is None:
        session = TrajectorySession(config, frame_images)
        setattr(agent_data, SESSION_ATTRIBUTE, session)
    elif session.config != config:
        logger.warning("pixel tools configured differently; this trajectory keeps the first tool's config")
    return session


def trajectory_registry(agent_data: Any) -> ImageRegistry | None:
    """The trajectory's image registry, or ``None`` before its first call."""
    session = getattr(agent_data, SESSION_ATTRIBUTE, None)
    return session.registry if session is not None else None


def build_registry(agent_data: Any, config: VisualOpsConfig, frame_images: int = 0) -> ImageRegistry:
    """Registry of the trajectory's input images, their originals and its video frames (does file I/O)."""
    model_images = list(getattr(agent_data, "image_data", None) or [])
    originals = load_originals(agent_data, len(model_images))
    return ImageRegistry.from_inputs(
        config, model_images, originals, first_video_frames(agent_data), frame_images=frame_images
    )


async def answer_call(
    agent_data: Any,
    config: VisualOpsConfig,
    call: ToolCall | MalformedToolCall,
    available: Collection[str] = OPERATIONS,
) -> OperationResult:
    """Answer one call of the trajectory and record its event; never raises.

    Args:
        agent_data: verl's ``AgentData`` of the calling trajectory.
        config: the operation config of the tool (or loop) answering.
        call: the parsed call; a malformed one is answered with its parse error.
        available: canonical operations offered in this rollout (empty: every call is refused).
    """
    session = session_for(agent_data, config)
    label = canonical_operation(call.name) or UNKNOWN_OPERATION
    async with session.lock:  # PIL work runs in a worker thread: it must not block the shared event loop
        result = await asyncio.to_thread(run_guarded, label, lambda: _answer(session, agent_data, call, available))
    record_event(agent_data, result)
    return result


def _answer(
    session: TrajectorySession, agent_data: Any, call: ToolCall | MalformedToolCall, available: Collection[str]
) -> OperationResult:
    if session.registry is None:
        session.registry = build_registry(agent_data, session.config, session.frame_images)
    session.registry.sync(list(getattr(agent_data, "image_data", None) or []))
    return run_tool_call(session.registry, call, available)


def record_event(agent_data: Any, result: OperationResult) -> None:
    """Append the call's metrics to ``agent_data.extra_fields[TOOL_EVENTS_KEY]``."""
    extra_fields = getattr(agent_data, "extra_fields", None)
    if isinstance(extra_fields, dict):
        extra_fields.setdefault(TOOL_EVENTS_KEY, []).append(result.to_event())


def pop_tool_events(extra_fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Remove and return a trajectory's tool events (for the agent loop, before it builds its record)."""
    return list(extra_fields.pop(TOOL_EVENTS_KEY, None) or [])
