"""Configuration of the ``pixel_agent`` rollout, read from the top-level ``pixel.rollout`` section of verl's config.

Example (hydra overrides on ``main_ppo``; in training the layout sums to ``rollout.n``)::

    actor_rollout_ref.rollout.n=16
    +pixel.rollout.mode_layout.adaptive=8 +pixel.rollout.mode_layout.force_tool=4 +pixel.rollout.mode_layout.no_tool=4

This module validates the ``rollout`` subsection; the whole ``pixel`` section (and its agreement with the trainer
settings) is validated by :mod:`verl_pixel.pixel_config`, in every process that reads it.

The visual-operation knobs (coordinates, budgets, limits, output style) belong to the tools and live in the tool
YAML (``verl_pixel/configs/tools/pixel_tools.yaml``); the loop reads the tools' config from there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from verl_pixel.plain_values import config_mapping, reject_unknown_keys
from verl_pixel.prompts import DEFAULT_MODE_INSTRUCTIONS, DEFAULT_SYSTEM_PROMPT
from verl_pixel.record import RolloutMode

# Order of modes along a group's session ids: adaptive rollouts take the low indices so that validation (n=1,
# session 0) is always adaptive; probes take the last ones (METHOD.md §2).
MODE_ORDER: tuple[RolloutMode, ...] = (RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL)
ROLLOUT_PATH = "pixel.rollout"  # where verl's config holds this section (named in every error)


@dataclasses.dataclass(frozen=True)
class PixelRolloutConfig:
    """Knobs of the ``pixel_agent`` loop.

    Attributes:
        mode_layout: rollouts per mode within one prompt's group, e.g. ``{adaptive: 8, force_tool: 4,
            no_tool: 4}`` (Look Less) or ``{adaptive: 8}`` (Pixel Reasoner). Empty (the default): no layout, every
            rollout runs adaptive whatever ``rollout.n`` is. A given layout must sum to ``actor_rollout_ref.rollout.n``
            in training (checked at start-up, :func:`verl_pixel.pixel_config.check_against_run`).
        instructions: text appended to the system prompt per mode (empty: nothing added).
        default_system_prompt: system prompt used when the row has none and an instruction must be added.
    """

    mode_layout: tuple[tuple[RolloutMode, int], ...] = ()
    instructions: tuple[tuple[RolloutMode, str], ...] = tuple(DEFAULT_MODE_INSTRUCTIONS.items())
    default_system_prompt: str = DEFAULT_SYSTEM_PROMPT

    def __post_init__(self) -> None:
        for mode, count in self.mode_layout:
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"{ROLLOUT_PATH}.mode_layout.{mode.value}: need an integer >= 0, got {count!r}")
        for mode, text in self.instructions:
            if not isinstance(text, str):
                raise ValueError(f"{ROLLOUT_PATH}.instructions.{mode.value}: need a string, got {text!r}")
        if not isinstance(self.default_system_prompt, str):
            raise ValueError(f"{ROLLOUT_PATH}.default_system_prompt: need a string, got {self.default_system_prompt!r}")

    @property
    def group_size(self) -> int:
        """Rollouts the layout describes (0 without a layout; else it must equal ``actor_rollout_ref.rollout.n``)."""
        return sum(count for _, count in self.mode_layout)

    def count(self, mode: RolloutMode) -> int:
        """Rollouts of ``mode`` in the layout (0 when absent)."""
        return dict(self.mode_layout).get(mode, 0)

    def instruction(self, mode: RolloutMode) -> str:
        """The system-prompt addition for ``mode``."""
        return dict(self.instructions).get(mode, "")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> PixelRolloutConfig:
        """Build from the ``pixel.rollout`` mapping.

        Raises:
            ValueError: for an unknown key or mode, or a bad value, naming its full path (``pixel.rollout.mode_layot:
                unknown key (known: ...)``).
        """
        data = config_mapping(data, ROLLOUT_PATH)
        reject_unknown_keys(data, (field.name for field in dataclasses.fields(cls)), ROLLOUT_PATH)
        kwargs: dict[str, Any] = {}
        if "mode_layout" in data:
            counts = _by_mode(data["mode_layout"], "mode_layout")
            kwargs["mode_layout"] = tuple((mode, counts[mode]) for mode in MODE_ORDER if mode in counts)
        if "instructions" in data:
            given = _by_mode(data["instructions"], "instructions")
            kwargs["instructions"] = tuple({**DEFAULT_MODE_INSTRUCTIONS, **given}.items())
        if "default_system_prompt" in data:
            kwargs["default_system_prompt"] = data["default_system_prompt"]
        return cls(**kwargs)


def _by_mode(data: Any, key: str) -> dict[RolloutMode, Any]:
    path = f"{ROLLOUT_PATH}.{key}"
    values = config_mapping(data, path)
    known = ", ".join(mode.value for mode in RolloutMode)
    out: dict[RolloutMode, Any] = {}
    for name, value in values.items():
        try:
            out[RolloutMode(str(name))] = value
        except ValueError:
            raise ValueError(f"{path}.{name}: unknown mode (known: {known})") from None
    return out
