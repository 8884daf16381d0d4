"""The reward settings in verl's config: the ``pixel.reward`` section, read in this one place.

verl-pixel keeps its knobs in a top-level ``pixel`` section of verl's ``ppo_trainer`` config, one sub-section per
component (``pixel.rollout`` belongs to the agent loop). The reward side reads only ``pixel.reward``, which maps
one to one onto :class:`~verl_pixel.reward.config.ShapingConfig` (defaults: METHOD.md §3)::

    pixel:
      reward:
        method: look_less            # none | curiosity | look_less | deepeyes
        correct_threshold: 0.5
        format: {weight: 0.0, penalize_failed_ops: true, require_explicit_answer: true}
        curiosity:
          variant: paper             # paper | released_code
          alpha: 0.5
          target_rapr: 0.3
          code_scale: 0.25
          redundancy: {beta: 0.05, free_ops: 1}
        look_less:
          margin: 0.0
          lambda_instr: 0.5
          lambda_align: 0.5
          op_count: succeeded        # succeeded | attempted
          probe_gradient: own_group  # own_group | pooled | off
          alignment: {b1: 1.0, b2: 0.2, b3: -0.2, c1: 1.0, c2: -0.2, c3: 0.2}
          redundancy: {beta: 0.05, free_ops: 1}
        deepeyes: {acc_weight: 0.8, fmt_weight: 0.2, tool_weight: 1.2}

Every key is optional; an absent section means all defaults. An unknown key or a bad value raises ``ValueError``
naming its full path (``pixel.reward.look_less.alignment.b2: ...``) when the component starts, not mid-training.

Hydra: verl's ``ppo_trainer`` has no ``pixel`` key, so on the command line a new key needs ``+``
(``+pixel.reward.method=curiosity +pixel.reward.format.weight=0.5``); in a recipe YAML composed on top of
``ppo_trainer`` (``defaults: [ppo_trainer, _self_]``) write the section as is, and plain overrides work after that.

Who reads it: the ``pixel`` reward manager (:mod:`verl_pixel.reward.adapters.manager`, it gets verl's whole config)
and the group-shaping replay buffer (:mod:`verl_pixel.reward.adapters.replay_buffer`, which gets only
``sampler_kwargs`` from verl and therefore finds the section as described there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verl_pixel.plain_values import to_plain
from verl_pixel.reward.config import ShapingConfig

PIXEL_SECTION = "pixel"
REWARD_KEY = "reward"
REWARD_PATH = f"{PIXEL_SECTION}.{REWARD_KEY}"


def pixel_section(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The top-level ``pixel`` section of verl's config as a plain dict (``{}`` when absent).

    Raises:
        ValueError: if ``pixel`` is present but not a mapping.
    """
    section = to_plain(config.get(PIXEL_SECTION)) if config is not None else None
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise ValueError(f"{PIXEL_SECTION}: expected a mapping, got {section!r}")
    return dict(section)


def reward_config_from_section(section: Mapping[str, Any] | None) -> ShapingConfig:
    """Build the reward config from a ``pixel`` section (only its ``reward`` key is read).

    Raises:
        ValueError: for an unknown key or an invalid value, naming its full path from ``pixel.reward``.
    """
    reward = to_plain((section or {}).get(REWARD_KEY))
    if reward is not None and not isinstance(reward, Mapping):
        raise ValueError(f"{REWARD_PATH}: expected a mapping, got {reward!r}")
    try:
        return ShapingConfig.from_mapping(reward)
    except ValueError as err:  # the core names the key relative to the reward config; name it from the root
        raise ValueError(f"{REWARD_PATH}.{err}") from None


def reward_config(config: Mapping[str, Any] | None) -> ShapingConfig:
    """Build the reward config from verl's whole config (its ``pixel.reward`` section; defaults when absent).

    Raises:
        ValueError: for an unknown key or an invalid value, naming its full path.
    """
    return reward_config_from_section(pixel_section(config))
