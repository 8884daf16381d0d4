"""Rollout modes: which mode a rollout runs in, and how the mode changes its prompt (pure)."""

from __future__ import annotations

import copy
from typing import Any

from verl_pixel.record import RolloutMode
from verl_pixel.rollout.config import PixelRolloutConfig


def mode_for_session(config: PixelRolloutConfig, session_id: int | None) -> RolloutMode:
    """The mode of rollout ``session_id`` (0..n-1 within its prompt's group, as verl V1 numbers them).

    Modes are laid out in :data:`~verl_pixel.rollout.config.MODE_ORDER`, adaptive first. A missing session id
    (verl's legacy trainer passes none) or one past the layout runs adaptive.
    """
    if session_id is None or session_id < 0:
        return RolloutMode.ADAPTIVE
    start = 0
    for mode, count in config.mode_layout:
        if start <= session_id < start + count:
            return mode
        start += count
    return RolloutMode.ADAPTIVE


def with_mode_instruction(messages: list[dict[str, Any]], instruction: str, default_system: str) -> list[dict]:
    """Return ``messages`` with ``instruction`` appended to the system prompt (a new list; the input is untouched).

    A missing system message is created from ``default_system`` (the model family's default persona) followed by
    the instruction; an empty ``default_system`` (Qwen3-VL's template adds no system turn) gives the instruction
    alone.
    """
    if not instruction:
        return list(messages)
    messages = [copy.copy(message) for message in messages]
    if messages and messages[0].get("role") == "system":
        content = messages[0].get("content")
        if isinstance(content, list):
            messages[0]["content"] = [*content, {"type": "text", "text": "\n\n" + instruction}]
        else:
            messages[0]["content"] = f"{content or ''}\n\n{instruction}".lstrip()
        return messages
    system = f"{default_system}\n\n{instruction}" if default_system else instruction
    return [{"role": "system", "content": system}, *messages]


def complied(mode: RolloutMode, ops_attempted: int, ops_succeeded: int) -> bool:
    """Whether a rollout obeyed its mode: force_tool needs a successful operation, no_tool needs no call at all."""
    if mode is RolloutMode.FORCE_TOOL:
        return ops_succeeded > 0
    if mode is RolloutMode.NO_TOOL:
        return ops_attempted == 0
    return True
