"""Group shaping entry point: one prompt's scored rollouts in, shaped rewards by component out (METHOD §3).

The verl adapter (replay buffer) calls, once per finished prompt group::

    result = shape_group([ScoredRollout.from_extra_fields(f) for f in group_extra_fields], config, context)
    for reward in result.rewards: ...   # reward.total -> rm_scores; reward.advantage_group / trainable -> grouping

and, once per step, :func:`verl_pixel.reward.shaping.metrics.step_metrics` over the step's results.

Methods (``ShapingConfig.method``): ``none`` (``r_acc + w_fmt r_fmt``), ``curiosity`` (Pixel Reasoner),
``look_less`` (adaptive dual rollouts), ``deepeyes`` (gated tool bonus), ``hdpo`` (Metis' decoupled advantages),
``adatooler`` (AdaTooler-V's tool-benefit reward), one module each. ``context``
(:class:`~verl_pixel.reward.shaping.shaped_reward.GroupContext`) carries what the group cannot know itself: the
necessity memory's need(x), the row's Delta S.

``ignore_exceed`` (any method; Mini-o3, ``actor_rollout_ref.actor.ignore_exceed=True`` in its training scripts:
the loss mask of a trajectory cut off by the turn limit is zeroed): rollouts whose stop reason is in
``exceed_stops`` are taken out of the group before the method's rule runs, so they neither get a reward nor move
the group's statistics (RaPR, probe accuracies, the GRPO mean and std), and come back frozen: total 0, not
trainable. (Mini-o3's verl port zeroes the loss mask only, so an exceeded row's score still enters GRPO's group
mean; here it does not: a cut-off rollout says nothing about the answer.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.adatooler import shape_adatooler_group
from verl_pixel.reward.shaping.curiosity import shape_curiosity_group
from verl_pixel.reward.shaping.deepeyes import shape_deepeyes_group
from verl_pixel.reward.shaping.hdpo import shape_hdpo_group
from verl_pixel.reward.shaping.look_less import shape_look_less_group
from verl_pixel.reward.shaping.shaped_reward import (
    NO_CONTEXT,
    SHARED_ADVANTAGE_GROUP,
    GroupContext,
    GroupShaping,
    ScoredRollout,
    build_reward,
    check_group,
    probe_group_info,
)

# Methods whose rule returns advantages (GroupShaping.advantages), not only rewards.
ADVANTAGE_METHODS = frozenset({"hdpo"})
GroupRule = Callable[[Sequence[ScoredRollout], ShapingConfig, GroupContext], GroupShaping]


def shape_plain_group(
    rollouts: Sequence[ScoredRollout], config: ShapingConfig, context: GroupContext = NO_CONTEXT
) -> GroupShaping:
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
    return GroupShaping(
        group,
        rewards,
        probe_group_info(group, "succeeded", config),
    )


GROUP_RULES: dict[str, GroupRule] = {
    "none": shape_plain_group,
    "curiosity": shape_curiosity_group,
    "look_less": shape_look_less_group,
    "deepeyes": shape_deepeyes_group,
    "hdpo": shape_hdpo_group,
    "adatooler": shape_adatooler_group,
}


def shape_group(
    rollouts: Sequence[ScoredRollout], config: ShapingConfig, context: GroupContext = NO_CONTEXT
) -> GroupShaping:
    """Shape all rollouts of one prompt with ``config.method`` (and ``ignore_exceed``, see the module docstring).

    Args:
        rollouts: the prompt's rollouts (any order; results keep it).
        config: the reward config.
        context: what the group cannot know itself (memory need, Delta S, label, plan).

    Returns:
        Per-rollout :class:`ShapedReward` components, the :class:`GroupInfo`, the context and, for HDPO, the
        advantages.

    Raises:
        ValueError: for an empty group (never for the rollouts' content).
    """
    group = tuple(rollouts)
    check_group(group)
    rule = GROUP_RULES[config.method]
    exceeded = [config.ignore_exceed and r.record.stop_reason.value in config.exceed_stops for r in group]
    if not any(exceeded):
        return dataclasses.replace(rule(group, config, context), context=context)
    kept = tuple(rollout for rollout, out in zip(group, exceeded, strict=True) if not out)
    if kept:
        shaped = rule(kept, config, context)
        info = shaped.info
    else:  # every rollout exceeded: nothing to shape, nothing trains
        shaped = None
        info = dataclasses.replace(
            probe_group_info(group, "succeeded", config),
            size=0,
        )
    rewards, advantages = _merge_exceeded(group, exceeded, shaped, config.method in ADVANTAGE_METHODS)
    info = dataclasses.replace(info, exceeded=sum(exceeded))
    return GroupShaping(group, rewards, info, context, advantages)


def _merge_exceeded(
    group: tuple[ScoredRollout, ...], exceeded: list[bool], shaped: GroupShaping | None, with_advantages: bool
) -> tuple[tuple, tuple[float, ...] | None]:
    """The kept rollouts' rewards (and advantages) back in group order, a frozen reward for each exceeded one."""
    kept_rewards = iter(shaped.rewards if shaped else ())
    kept_advantages = iter(shaped.advantages or ()) if shaped else iter(())
    rewards, advantages = [], []
    for rollout, out in zip(group, exceeded, strict=True):
        if out:
            rewards.append(_frozen(rollout))
            advantages.append(0.0)
        else:
            rewards.append(next(kept_rewards))
            advantages.append(next(kept_advantages, 0.0))
    return tuple(rewards), tuple(advantages) if with_advantages else None


def _frozen(rollout: ScoredRollout):
    """An exceeded rollout's reward: every component 0, not trainable (group_step masks it out)."""
    return build_reward(
        rollout, used_tool=rollout.record.ops_succeeded > 0, advantage_group=rollout.record.mode.value, trainable=False
    )
