"""Pixel Reasoner's curiosity-driven reward, per group (reference implementation).

Paper (arXiv 2505.15966, App. C.3, Eq. 10), for rollout y of query x::

    r'(x, y) = r_acc(y) + alpha * max(H - RaPR(x), 0) * 1[y used a visual op] + beta * min(N - n_vo(y), 0)

RaPR(x) is the fraction of x's rollouts that used a visual operation; alpha = 0.5, beta = 0.05, H = 0.3, N = 1.
The bonus is not gated on correctness. ``variant="released_code"`` reproduces TIGER-AI-Lab/Pixel-Reasoner's
``curiosity_driven_rl/openrlhf/trainer/ppo_utils/experience_maker.py`` (commit a3a6c3a, lines 2425-2451) instead:

* the bonus is further multiplied by ``code_scale / RaPR`` (0.25 / RaPR) and calls count when *attempted*;
* a rollout whose input is a video uses ``video_alpha`` (the code's ``/ 1.5``) in place of ``alpha`` (``/ 2.0``);
* a correct answer right after an unfixed tool error scores 0 (``zero_correct_after_error``; lines 2433-2435);
* a wrong answer the model did not mark scores ``unparsable_score`` (-1.0 in the code's ``do_verify``, lines
  789-802; default 0.0, i.e. ``r_acc``).
"""

from __future__ import annotations

from collections.abc import Sequence

from verl_pixel.reward.config import CuriosityConfig, ShapingConfig
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
    redundancy_penalty,
)


def curiosity_bonus(rapr: float, used: bool, config: CuriosityConfig, video: bool = False) -> float:
    """The bonus of one rollout given its group's RaPR (0.0 if it used no visual operation).

    Args:
        rapr: the group's RaPR.
        used: the rollout used a visual operation (under the variant's counting).
        config: the curiosity constants.
        video: the rollout's input is a video (``released_code`` weighs it by ``video_alpha``).
    """
    if not used:
        return 0.0
    code = config.variant == "released_code"
    alpha = config.video_alpha if code and video else config.alpha
    bonus = alpha * max(config.target_rapr - rapr, 0.0)
    if code:
        # Same operation order as the released code: ``max(0.3 - rapr, 0) / 2.0 / rapr * 0.25``.
        bonus = bonus / rapr * config.code_scale
    return bonus


def curiosity_accuracy(rollout: ScoredRollout, config: CuriosityConfig, correct_threshold: float) -> float:
    """The correctness term ``r`` of one rollout: ``r_acc``, or the released code's reading of it.

    ``released_code``: an unmarked wrong answer scores ``unparsable_score``; a correct answer right after an
    unfixed tool error scores 0 (when ``zero_correct_after_error``).
    """
    if config.variant != "released_code":
        return rollout.acc
    if rollout.acc == 0.0 and not rollout.answer_marked:
        return config.unparsable_score
    if config.zero_correct_after_error and rollout.record.last_call_failed and rollout.acc >= correct_threshold:
        return 0.0
    return rollout.acc


def shape_curiosity_group(
    rollouts: Sequence[ScoredRollout], config: ShapingConfig, context: GroupContext = NO_CONTEXT
) -> GroupShaping:
    """Shape one prompt's rollouts with the curiosity bonus and the redundant-operation penalty.

    Args:
        rollouts: all rollouts of one prompt.
        config: the reward config (``config.curiosity`` and ``config.format.weight`` are used).
        context: not used (the bonus needs only the group).

    Returns:
        Per-rollout components (one shared advantage group) and the group's RaPR.
    """
    group = tuple(rollouts)
    check_group(group)
    curiosity = config.curiosity
    info = probe_group_info(group, curiosity.op_count, config)
    rewards = []
    for rollout in group:
        n_ops = op_count(rollout.record, curiosity.op_count)
        rewards.append(
            build_reward(
                rollout,
                used_tool=n_ops > 0,
                advantage_group=SHARED_ADVANTAGE_GROUP,
                acc_term=curiosity_accuracy(rollout, curiosity, config.correct_threshold),
                fmt_term=config.format.weight * rollout.fmt,
                curiosity_bonus=curiosity_bonus(info.rapr, n_ops > 0, curiosity, rollout.record.video_input),
                redundancy_penalty=redundancy_penalty(n_ops, curiosity.redundancy.beta, curiosity.redundancy.free_ops),
            )
        )
    return GroupShaping(group, tuple(rewards), info)
