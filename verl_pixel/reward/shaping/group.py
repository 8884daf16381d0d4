"""Group shaping entry point: one prompt's scored rollouts in, shaped rewards by component out (METHOD §3).

The verl adapter (replay buffer) calls, once per finished prompt group::

    result = shape_group([ScoredRollout.from_extra_fields(f) for f in group_extra_fields], config)
    for reward in result.rewards: ...   # reward.total -> rm_scores; reward.advantage_group / trainable -> grouping

and, once per step, :func:`verl_pixel.reward.shaping.metrics.step_metrics` over the step's results.

Methods (``ShapingConfig.method``): ``none`` (``r_acc + w_fmt r_fmt``), ``curiosity`` (Pixel Reasoner),
``look_less`` (adaptive dual rollouts), ``deepeyes`` (gated tool bonus), one module each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.curiosity import shape_curiosity_group
from verl_pixel.reward.shaping.deepeyes import shape_deepeyes_group
from verl_pixel.reward.shaping.look_less import shape_look_less_group
from verl_pixel.reward.shaping.shaped_reward import (
    SHARED_ADVANTAGE_GROUP,
    GroupShaping,
    ScoredRollout,
    build_reward,
    check_group,
    group_info,
)

GroupRule = Callable[[Sequence[ScoredRollout], ShapingConfig], GroupShaping]


def shape_plain_group(rollouts: Sequence[ScoredRollout], config: ShapingConfig) -> GroupShaping:
    """No shaping: ``r_acc + format.weight * r_fmt``; the group only supplies logged statistics."""
    group = tuple(rollouts)
    check_group(group)
    rewards = tuple(
        build_reward(
            rollout,
            used_tool=rollout.record.ops_succeeded > 0,
            advantage_group=SHARED_ADVANTAGE_GROUP,
            acc_term=rollout.acc,
            fmt_term=config.format.weight * rollout.fmt,
        )
        for rollout in group
    )
    return GroupShaping(group, rewards, group_info(group, "succeeded", config.look_less.margin))


GROUP_RULES: dict[str, GroupRule] = {
    "none": shape_plain_group,
    "curiosity": shape_curiosity_group,
    "look_less": shape_look_less_group,
    "deepeyes": shape_deepeyes_group,
}


def shape_group(rollouts: Sequence[ScoredRollout], config: ShapingConfig) -> GroupShaping:
    """Shape all rollouts of one prompt with ``config.method``.

    Args:
        rollouts: the prompt's rollouts (any order; results keep it).
        config: the reward config.

    Returns:
        Per-rollout :class:`ShapedReward` components and the :class:`GroupInfo`.

    Raises:
        ValueError: for an empty group (never for the rollouts' content).
    """
    return GROUP_RULES[config.method](rollouts, config)
