"""Metis' HDPO, per group: accuracy and tool-efficiency advantages normalised separately, then combined.

Accio-Lab/Metis (arXiv 2604.08545; verl-tool fork), read in a public copy of its ``verl_tool`` package:

* ``workers/reward_manager/metis.py``: two rewards per trajectory, accuracy ``r_acc`` (there
  ``0.9 * answer + 0.1 * format``) and tool efficiency ``r_tool = 1 / (T + 1)`` for a correct answer, 0 otherwise
  (T: the trajectory's tool turns);
* ``trainer/ppo/hdpo_algos.py``: ``compute_hdpo_advantage`` runs verl's GRPO on ``r_acc`` (``A_acc``) and a
  *conditional* GRPO on ``r_tool`` (``A_tool``): only qualifying rollouts (``r_tool > 0``, i.e. correct) are
  normalised among themselves, with verl's unbiased std and eps 1e-6; a prompt with fewer than two qualifying
  rollouts gets ``A_tool = 0`` everywhere, and non-qualifying rollouts always 0;
* ``workers/hdpo_actor.py``: the policy loss is ``w_acc * L(A_acc) + w_tool * L(A_tool)`` (``w_tool`` 0.15).

Here, for rollout i of one prompt::

    r_acc(i)  = r_acc + format.weight * r_fmt              (the method-neutral reward every method starts from)
    r_tool(i) = 1 / (T_i + 1) if r_acc >= correct_threshold else 0        (T_i: hdpo.op_count operations)
    A_acc(i)  = (r_acc(i) - mean) / (std + 1e-6) over the group    (a group of one: mean 0, std 1, as verl)
    A_tool(i) = (r_tool(i) - mean_q) / (std_q + 1e-6) over the qualifying rollouts if >= 2 qualify, else 0
    A(i)      = w_acc * A_acc(i) + w_tool * A_tool(i)

Where the advantages meet verl (why not ``register_adv_est`` alone): verl 0.9.1's V1 ``_compute_advantage`` hands
an advantage estimator only ``uid``, the response mask and one reward tensor (``rm_scores``), so an estimator cannot
see a second reward channel. The replay buffer sees the whole group with its records: it computes ``A(i)`` here (pure)
and writes it as the rollout's ``rm_scores``; verl-pixel registers the estimator ``pixel_precomputed``
(:mod:`verl_pixel.reward.adapters.advantage`), which hands those values through unchanged as advantages
(``algorithm.adv_estimator=pixel_precomputed``, enforced by the start-up check). Deviation from Metis: one loss on
the combined advantage instead of two clipped losses; with one PPO epoch on fresh rollouts (ratio 1, no clipping)
the gradients agree except that Metis averages ``L_tool`` over the qualifying rollouts' tokens only.

``ShapedReward.total`` is ``r_acc(i) + r_tool(i)`` (components ``acc_term``, ``fmt_term``, ``tool_efficiency``),
for logging; :attr:`GroupShaping.advantages` is what trains.
"""

from __future__ import annotations

import math
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
    op_count,
    probe_group_info,
)

GRPO_EPSILON = 1e-6  # verl's compute_grpo_outcome_advantage default, also Metis'


def grpo_advantages(scores: Sequence[float]) -> list[float]:
    """verl's GRPO outcome advantage of one group: ``(s - mean) / (std + eps)``, unbiased std; a singleton is 0/1."""
    if len(scores) == 1:
        return [scores[0] / (1.0 + GRPO_EPSILON)]
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((score - mean) ** 2 for score in scores) / (len(scores) - 1))
    return [(score - mean) / (std + GRPO_EPSILON) for score in scores]


def conditional_advantages(scores: Sequence[float]) -> list[float]:
    """Metis' conditional GRPO: normalise the qualifying (``> 0``) scores among themselves if >= 2, else all 0."""
    qualifying = [i for i, score in enumerate(scores) if score > 0.0]
    advantages = [0.0] * len(scores)
    if len(qualifying) < 2:
        return advantages
    for i, value in zip(qualifying, grpo_advantages([scores[i] for i in qualifying]), strict=True):
        advantages[i] = value
    return advantages


def shape_hdpo_group(
    rollouts: Sequence[ScoredRollout], config: ShapingConfig, context: GroupContext = NO_CONTEXT
) -> GroupShaping:
    """Shape one prompt's rollouts with HDPO: rewards by channel and the combined advantages (module docstring)."""
    group = tuple(rollouts)
    check_group(group)
    hdpo = config.hdpo
    rewards = []
    for rollout in group:
        n_ops = op_count(rollout.record, hdpo.op_count)
        correct = rollout.acc >= config.correct_threshold
        rewards.append(
            build_reward(
                rollout,
                used_tool=rollout.record.ops_succeeded > 0,
                advantage_group=SHARED_ADVANTAGE_GROUP,
                acc_term=rollout.acc,
                fmt_term=config.format.weight * rollout.fmt,
                tool_efficiency=1.0 / (n_ops + 1) if correct else 0.0,
            )
        )
    acc = grpo_advantages([reward.acc_term + reward.fmt_term for reward in rewards])
    tool = conditional_advantages([reward.tool_efficiency for reward in rewards])
    advantages = tuple(hdpo.acc_weight * a + hdpo.tool_weight * t for a, t in zip(acc, tool, strict=True))
    info = probe_group_info(group, "succeeded", config)
    return GroupShaping(group, tuple(rewards), info, context, advantages)
