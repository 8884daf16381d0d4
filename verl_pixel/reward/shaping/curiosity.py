"""Pixel Reasoner's curiosity-driven reward, per group (reference implementation).

Paper (arXiv 2505.15966, App. C.3, Eq. 10), for rollout y of query x::

    r'(x, y) = r_acc(y) + alpha * max(H - RaPR(x), 0) * 1[y used a visual op] + beta * min(N - n_vo(y), 0)

RaPR(x) is the fraction of x's rollouts that used a visual operation; alpha = 0.5, beta = 0.05, H = 0.3, N = 1.
The bonus is not gated on correctness. ``variant="released_code"`` reproduces TIGER-AI-Lab/Pixel-Reasoner's
``experience_maker.py`` instead: the bonus is further multiplied by ``0.25 / RaPR`` and calls count when
*attempted*, not only when successful. Two other behaviours of that code are not reproduced because the
trajectory record does not carry what they need: video rollouts use ``/1.5`` in place of ``alpha`` (set
``alpha=2/3`` for a video-only run), and a correct answer right after an unfixed tool error is zeroed.
"""

from __future__ import annotations

from collections.abc import Sequence

from verl_pixel.reward.config import CuriosityConfig, ShapingConfig
from verl_pixel.reward.shaping.shaped_reward import (
    SHARED_ADVANTAGE_GROUP,
    GroupShaping,
    ScoredRollout,
    build_reward,
    check_group,
    group_info,
    op_count,
    redundancy_penalty,
)


def curiosity_bonus(rapr: float, used: bool, config: CuriosityConfig) -> float:
    """The bonus of one rollout given its group's RaPR (0.0 if it used no visual operation)."""
    if not used:
        return 0.0
    bonus = config.alpha * max(config.target_rapr - rapr, 0.0)
    if config.variant == "released_code":
        # Same operation order as the released code: ``max(0.3 - rapr, 0) / 2.0 / rapr * 0.25``.
        bonus = bonus / rapr * config.code_scale
    return bonus


def shape_curiosity_group(rollouts: Sequence[ScoredRollout], config: ShapingConfig) -> GroupShaping:
    """Shape one prompt's rollouts with the curiosity bonus and the redundant-operation penalty.

    Args:
        rollouts: all rollouts of one prompt.
        config: the reward config (``config.curiosity`` and ``config.format.weight`` are used).

    Returns:
        Per-rollout components (one shared advantage group) and the group's RaPR.
    """
    group = tuple(rollouts)
    check_group(group)
    curiosity = config.curiosity
    info = group_info(group, curiosity.op_count, config.look_less.margin)
    rewards = []
    for rollout in group:
        n_ops = op_count(rollout.record, curiosity.op_count)
        rewards.append(
            build_reward(
                rollout,
                used_tool=n_ops > 0,
                advantage_group=SHARED_ADVANTAGE_GROUP,
                acc_term=rollout.acc,
                fmt_term=config.format.weight * rollout.fmt,
                curiosity_bonus=curiosity_bonus(info.rapr, n_ops > 0, curiosity),
                redundancy_penalty=redundancy_penalty(n_ops, curiosity.redundancy.beta, curiosity.redundancy.free_ops),
            )
        )
    return GroupShaping(group, tuple(rewards), info)
