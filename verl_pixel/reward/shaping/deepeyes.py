"""DeepEyes' gated tool bonus, per group (baseline; reference implementation).

``verl/utils/reward_score/vl_agent.py`` of Visual-Agent/DeepEyes (arXiv 2505.14362)::

    0.8 * r_acc + 0.2 * r_fmt + 1.2 * 1[used a tool and correct]

"Used a tool" is at least one *successful* visual operation (DeepEyes counts returned image tokens, not
``<tool_call>`` tags, against reward hacking by empty calls). "Correct" is ``r_acc >= correct_threshold``
(DeepEyes: judge score > 0.5; identical for binary scores). The bonus needs no other rollout; the group only
supplies the logged RaPR.
"""

from __future__ import annotations

from collections.abc import Sequence

from verl_pixel.reward.config import ShapingConfig
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


def shape_deepeyes_group(
    rollouts: Sequence[ScoredRollout], config: ShapingConfig, context: GroupContext = NO_CONTEXT
) -> GroupShaping:
    """Shape one prompt's rollouts with the DeepEyes reward (``config.deepeyes``, ``correct_threshold``)."""
    group = tuple(rollouts)
    check_group(group)
    weights = config.deepeyes
    rewards = []
    for rollout in group:
        used = rollout.record.ops_succeeded > 0
        correct = rollout.acc >= config.correct_threshold
        rewards.append(
            build_reward(
                rollout,
                used_tool=used,
                advantage_group=SHARED_ADVANTAGE_GROUP,
                acc_term=weights.acc_weight * rollout.acc,
                fmt_term=weights.fmt_weight * rollout.fmt,
                tool_bonus=weights.tool_weight if used and correct else 0.0,
            )
        )
    return GroupShaping(
        group,
        tuple(rewards),
        probe_group_info(group, "succeeded", config),
    )
