"""AdaTooler-V's tool-benefit reward, per group (AT-GRPO's adaptive tool reward; baseline).

CYWang735/AdaTooler-V (arXiv 2512.16918), ``verl_tool/workers/reward_manager/adatooler_v.py``: ``compute_ATReward``
is ``Delta S * exp(-gamma * ((n_tool - n_max) / n_max)^2)`` and the reward adds ``alpha`` times it to the score,
with ``alpha = 0.6``, ``gamma = 2``, ``n_max = 6`` (``action_max_limit``) and n_tool the trajectory's valid actions.
Delta S, the "Tool Benefit Score", is a precomputed per-sample field (``extra_info["Tool_Benefit_Score"]``; the
paper: accuracy of Qwen2.5-VL-72B with tools minus without, so in [-1, 1]). In the copy read, the call is commented
out and Delta S hard-wired to 1.0; the formula and constants are the ones ``compute_ATReward`` and the reward
manager's ``__init__`` state. Here, for rollout y::

    r(y) = r_acc(y) + format.weight * r_fmt(y) + alpha * Delta S * exp(-gamma * ((n_tool(y) - n_max) / n_max)^2)

As coded there, a rollout without a tool call (n_tool = 0) still gets ``alpha * Delta S * exp(-gamma)``
(0.081 Delta S with the defaults): a positive Delta S rewards many calls more than none, a negative one penalises
them more. Where Delta S comes from (``adatooler.delta_source``):

* ``row`` (AdaTooler-V): the row's ``extra_info[delta_field]``, via ``GroupContext.tool_benefit``; a training row
  without it is an error naming the row and the field (raised by the group step);
* ``probes`` [ours]: the policy's own gap acc_tool - acc_no, the necessity memory's posterior means when
  ``pixel.probing.enable`` (``GroupContext.memory_gap``), else this group's probe means; a group with neither gets
  no tool term (0.0), like a Look Less group without probes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from verl_pixel.reward.config import AdaToolerConfig, ShapingConfig
from verl_pixel.reward.shaping.shaped_reward import (
    NO_CONTEXT,
    SHARED_ADVANTAGE_GROUP,
    GroupContext,
    GroupInfo,
    GroupShaping,
    ScoredRollout,
    build_reward,
    check_group,
    op_count,
    probe_group_info,
)


def tool_benefit_reward(delta: float, n_tool: int, config: AdaToolerConfig) -> float:
    """``alpha * Delta S * exp(-gamma * ((n_tool - n_max) / n_max)^2)`` (AdaTooler-V's ``compute_ATReward`` x alpha)."""
    ratio = (n_tool - config.max_tools) / config.max_tools
    return config.alpha * delta * math.exp(-config.gamma * ratio**2)


def group_delta(info: GroupInfo, config: AdaToolerConfig, context: GroupContext) -> float | None:
    """Delta S of the group from its configured source (module docstring); None when the source has none."""
    if config.delta_source == "row":
        return context.tool_benefit
    if context.memory_gap is not None:
        return context.memory_gap
    if info.acc_tool is None or info.acc_no is None:
        return None
    return info.acc_tool - info.acc_no


def shape_adatooler_group(
    rollouts: Sequence[ScoredRollout], config: ShapingConfig, context: GroupContext = NO_CONTEXT
) -> GroupShaping:
    """Shape one prompt's rollouts with the tool-benefit reward (``config.adatooler``)."""
    group = tuple(rollouts)
    check_group(group)
    adatooler = config.adatooler
    info = probe_group_info(group, adatooler.op_count, config)
    delta = group_delta(info, adatooler, context)
    rewards = []
    for rollout in group:
        n_tool = op_count(rollout.record, adatooler.op_count)
        rewards.append(
            build_reward(
                rollout,
                used_tool=n_tool > 0,
                advantage_group=SHARED_ADVANTAGE_GROUP,
                acc_term=rollout.acc,
                fmt_term=config.format.weight * rollout.fmt,
                tool_benefit=0.0 if delta is None else tool_benefit_reward(delta, n_tool, adatooler),
            )
        )
    return GroupShaping(group, tuple(rewards), info, context)
