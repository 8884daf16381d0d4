"""Look Less adaptive dual rollouts, per group (reference implementation; [ours] reconstruction, METHOD §3).

Look Less (arXiv 2510.01681) published no code or constants; this follows METHOD.md §3 and
``research/adaptive_methods.md`` §1.4. For one prompt x with force_tool, no_tool and adaptive rollouts:

1. ``acc_tool(x)`` / ``acc_no(x)``: mean ``r_acc`` of the force_tool / no_tool rollouts;
   ``need(x) = 1[acc_tool > acc_no + margin]`` (a tie means no tool).
2. Probe rollouts (force_tool, no_tool): ``r_acc + lambda_instr * 1[complied with the mode]``.
3. Adaptive rollouts: ``r_acc + lambda_align * A(need, used, correct) + beta * min(N - n_vo, 0)`` with the
   alignment table of :class:`~verl_pixel.reward.config.AlignmentTable`; ``correct = r_acc >= correct_threshold``.
4. ``probe_gradient`` decides the advantage groups: ``own_group`` (one per mode), ``pooled`` or ``off``.

Missing probes: when the group lacks force_tool or no_tool rollouts, need(x) is undefined; the adaptive rollouts
then get no alignment term (0.0), ``GroupInfo.has_probes`` is False and the group lowers the step metrics
``pixel/probe/present_rate`` and ``pixel/probe/defined_rate``. With ``probe_accuracy: complied`` (the default) a
mode whose probes all disobeyed also leaves need(x) undefined (``defined_rate`` only). Nothing raises: a prompt
whose probes were dropped still trains on accuracy.

With the necessity memory (``pixel.probing.enable``, [ours]) need(x) is the memory's
(``GroupContext.memory_need``, :mod:`~verl_pixel.reward.shaping.necessity_memory`), whether or not this visit ran
probes: its estimate already holds this group's probes and adaptive rollouts and every earlier visit's, where a
visit's own one or two probes per mode would be a coin toss. ``GroupInfo.need_source`` is then ``memory``;
``acc_tool`` / ``acc_no`` stay this group's probe means (None for a visit without probes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from verl_pixel.record import RolloutMode
from verl_pixel.reward.config import AlignmentTable, ProbeGradient, ShapingConfig
from verl_pixel.reward.shaping.shaped_reward import (
    NO_CONTEXT,
    SHARED_ADVANTAGE_GROUP,
    GroupContext,
    GroupInfo,
    GroupShaping,
    ScoredRollout,
    ShapedReward,
    build_reward,
    check_group,
    op_count,
    probe_group_info,
    redundancy_penalty,
)


def alignment_value(table: AlignmentTable, need: bool, used: bool, correct: bool) -> float:
    """``A(need, used, correct)`` from the alignment table (before ``lambda_align``)."""
    if need:
        if used:
            return table.b1 if correct else table.b2
        return table.b3
    if used:
        return table.c2
    return table.c1 if correct else table.c3


def advantage_group_of(mode: RolloutMode, probe_gradient: ProbeGradient) -> tuple[str, bool]:
    """The advantage-group label and the trainable flag of a rollout in a Look Less group.

    ``own_group`` and ``off`` label each mode separately (``off`` also freezes the probes); ``pooled`` puts all
    rollouts of the prompt in the one shared group. The verl adapter normalizes advantages per
    ``(uid, label)`` and masks rollouts whose flag is False.
    """
    if probe_gradient == "pooled":
        return SHARED_ADVANTAGE_GROUP, True
    return mode.value, probe_gradient == "own_group" or mode is RolloutMode.ADAPTIVE


def shape_look_less_group(
    rollouts: Sequence[ScoredRollout], config: ShapingConfig, context: GroupContext = NO_CONTEXT
) -> GroupShaping:
    """Shape one prompt's rollouts (probes and adaptive) with the Look Less rewards.

    Args:
        rollouts: all rollouts of one prompt, any modes in any order.
        config: the reward config (``config.look_less``, ``correct_threshold``, ``format.weight``).
        context: ``memory_need`` replaces the probes' need(x) when the necessity memory is on.

    Returns:
        Per-rollout components with their advantage groups, and need(x), acc_tool, acc_no, RaPR.
    """
    group = tuple(rollouts)
    check_group(group)
    info = probe_group_info(group, config.look_less.op_count, config)
    if context.memory_need is not None:
        info = dataclasses.replace(info, need=context.memory_need, need_source="memory")
    return GroupShaping(group, tuple(_shape_rollout(rollout, info, config) for rollout in group), info, context)


def _shape_rollout(rollout: ScoredRollout, info: GroupInfo, config: ShapingConfig) -> ShapedReward:
    look_less = config.look_less
    record = rollout.record
    n_ops = op_count(record, look_less.op_count)
    label, trainable = advantage_group_of(record.mode, look_less.probe_gradient)
    common = {
        "used_tool": n_ops > 0,
        "advantage_group": label,
        "trainable": trainable,
        "acc_term": rollout.acc,
        "fmt_term": config.format.weight * rollout.fmt,
    }
    if record.mode is not RolloutMode.ADAPTIVE:
        return build_reward(rollout, instr_bonus=look_less.lambda_instr if record.complied else 0.0, **common)
    alignment = 0.0
    if info.need is not None:
        correct = rollout.acc >= config.correct_threshold
        alignment = look_less.lambda_align * alignment_value(look_less.alignment, info.need, n_ops > 0, correct)
    penalty = redundancy_penalty(n_ops, look_less.redundancy.beta, look_less.redundancy.free_ops)
    return build_reward(rollout, alignment_bonus=alignment, redundancy_penalty=penalty, **common)
