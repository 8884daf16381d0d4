"""Rollout modes: which mode a rollout runs in, and how the mode changes its prompt (pure)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Collection, Mapping
from typing import Any

from verl_pixel.family_check import template_default_system_prompt
from verl_pixel.record import RolloutMode
from verl_pixel.rollout.config import MODE_ORDER, PixelRolloutConfig


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


def with_family_system_prompt(
    rollout: PixelRolloutConfig, section: Mapping[str, Any] | None, renderer: Any
) -> PixelRolloutConfig:
    """``rollout`` as ``pixel_agent`` applies it: the model family's default system prompt unless ``section`` sets one.

    Args:
        rollout: the validated ``pixel.rollout`` section.
        section: ``pixel.rollout`` as written (to tell an explicit ``default_system_prompt`` from the default).
        renderer: the processor or tokenizer whose chat template is in use (Qwen3-VL's adds no system turn).
    """
    if "default_system_prompt" in (section or {}):
        return rollout
    return dataclasses.replace(rollout, default_system_prompt=template_default_system_prompt(renderer))


def longest_instruction(
    rollout: PixelRolloutConfig, count_tokens: Callable[[str], int], modes: Collection[RolloutMode] | None = None
) -> str:
    """The mode instruction that costs the most tokens among ``modes`` (default: the modes the layout runs).

    Without a layout every rollout runs adaptive. ``""`` when no mode adds an instruction.
    """
    if modes is None:
        modes = [mode for mode, count in rollout.mode_layout if count > 0] or [RolloutMode.ADAPTIVE]
    texts = [rollout.instruction(mode) for mode in MODE_ORDER if mode in modes]
    return max(texts, key=count_tokens, default="")
