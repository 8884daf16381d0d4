"""Configuration of the ``pixel_agent`` rollout, read from the top-level ``pixel.rollout`` section of verl's config.

Example (hydra overrides on ``main_ppo``)::

    +pixel.rollout.mode_layout.adaptive=8 +pixel.rollout.mode_layout.force_tool=4 +pixel.rollout.mode_layout.no_tool=4

The visual-operation knobs (coordinates, budgets, limits, output style) belong to the tools and live in the tool
YAML (``verl_pixel/configs/tools/pixel_tools.yaml``); the loop reads the tools' config from there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from verl_pixel.prompts import DEFAULT_MODE_INSTRUCTIONS, DEFAULT_SYSTEM_PROMPT
from verl_pixel.record import RolloutMode

# Order of modes along a group's session ids: adaptive rollouts take the low indices so that validation (n=1,
# session 0) is always adaptive; probes take the last ones (METHOD.md §2).
MODE_ORDER: tuple[RolloutMode, ...] = (RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL)


@dataclasses.dataclass(frozen=True)
class PixelRolloutConfig:
    """Knobs of the ``pixel_agent`` loop.

    Attributes:
        mode_layout: rollouts per mode within one prompt's group, e.g. ``{adaptive: 8, force_tool: 4,
            no_tool: 4}`` (Look Less) or ``{adaptive: 8}`` (Pixel Reasoner). Session ids beyond the layout's total
            run adaptive.
        instructions: text appended to the system prompt per mode (empty: nothing added).
        default_system_prompt: system prompt used when the row has none and an instruction must be added.
    """

    mode_layout: tuple[tuple[RolloutMode, int], ...] = ((RolloutMode.ADAPTIVE, 1),)
    instructions: tuple[tuple[RolloutMode, str], ...] = tuple(DEFAULT_MODE_INSTRUCTIONS.items())
    default_system_prompt: str = DEFAULT_SYSTEM_PROMPT

    def __post_init__(self) -> None:
        for mode, count in self.mode_layout:
            if not isinstance(count, int) or count < 0:
                raise ValueError(f"pixel.rollout.mode_layout.{mode.value}: need an integer >= 0, got {count!r}")

    @property
    def group_size(self) -> int:
        """Rollouts the layout describes (should equal ``actor_rollout_ref.rollout.n``)."""
        return sum(count for _, count in self.mode_layout)

    def instruction(self, mode: RolloutMode) -> str:
        """The system-prompt addition for ``mode``."""
        return dict(self.instructions).get(mode, "")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> PixelRolloutConfig:
        """Build from the ``pixel.rollout`` mapping (unknown keys and modes are errors naming the key)."""
        data = dict(data or {})
        unknown = set(data) - {"mode_layout", "instructions", "default_system_prompt"}
        if unknown:
            raise ValueError(f"pixel.rollout: unknown keys {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        if "mode_layout" in data:
            counts = {_mode(key, "mode_layout"): value for key, value in dict(data["mode_layout"]).items()}
            kwargs["mode_layout"] = tuple((mode, counts[mode]) for mode in MODE_ORDER if mode in counts)
        if "instructions" in data:
            given = {_mode(key, "instructions"): str(text) for key, text in dict(data["instructions"]).items()}
            kwargs["instructions"] = tuple({**DEFAULT_MODE_INSTRUCTIONS, **given}.items())
        if "default_system_prompt" in data:
            kwargs["default_system_prompt"] = str(data["default_system_prompt"])
        return cls(**kwargs)


def _mode(key: Any, section: str) -> RolloutMode:
    try:
        return RolloutMode(str(key))
    except ValueError:
        allowed = ", ".join(mode.value for mode in RolloutMode)
        raise ValueError(f"pixel.rollout.{section}: unknown mode {key!r} (allowed: {allowed})") from None
