"""Vectorized group shaping: the same numbers as :func:`~verl_pixel.reward.shaping.shape_group`, for many groups.

The per-group reference path builds a dataclass per rollout (tens of microseconds per group); for a whole batch
(the benchmark shapes 100k rollouts) this module works on columns with numpy. It is exact, not approximate: every
float is computed by the same IEEE operations in the same order as the reference (group sums accumulate left to
right in ``np.bincount`` as in :func:`~verl_pixel.reward.shaped_reward.mean_or_none`), which
``tests/reward/test_batch_shaping.py`` checks with ``==`` on random batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from verl_pixel.record import RolloutMode
from verl_pixel.reward.config import OpCount, ShapingConfig
from verl_pixel.reward.shaped_reward import (
    REWARD_COMPONENTS,
    SHARED_ADVANTAGE_GROUP,
    GroupInfo,
    ScoredRollout,
    ShapedReward,
)

MODES: tuple[RolloutMode, ...] = (RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL)
ADAPTIVE, FORCE_TOOL, NO_TOOL = range(3)
# Advantage-group codes: 0 is the shared group, 1 + mode code is a per-mode group.
ADVANTAGE_GROUP_LABELS: tuple[str, ...] = (SHARED_ADVANTAGE_GROUP, *(mode.value for mode in MODES))


@dataclasses.dataclass(frozen=True)
class RolloutColumns:
    """Scored rollouts of many groups as columns (one row per rollout).

    Attributes:
        group_ids: int64, the row's group in ``0 .. num_groups - 1``; rows of a group need not be contiguous.
        modes: int8 mode codes (index into :data:`MODES`).
        ops_succeeded: int64.
        ops_attempted: int64.
        complied: bool.
        acc: float64 ``r_acc``.
        fmt: float64 ``r_fmt``.
        num_groups: number of groups; every group has at least one row.
    """

    group_ids: np.ndarray
    modes: np.ndarray
    ops_succeeded: np.ndarray
    ops_attempted: np.ndarray
    complied: np.ndarray
    acc: np.ndarray
    fmt: np.ndarray
    num_groups: int

    def __post_init__(self) -> None:
        columns = (self.modes, self.ops_succeeded, self.ops_attempted, self.complied, self.acc, self.fmt)
        if any(column.shape != self.group_ids.shape for column in columns) or self.group_ids.ndim != 1:
            raise ValueError("RolloutColumns: all columns must be 1-D arrays of the same length")
        counts = np.bincount(self.group_ids, minlength=self.num_groups) if self.group_ids.size else np.zeros(0)
        if len(counts) != self.num_groups or (counts == 0).any():
            raise ValueError(f"RolloutColumns: group_ids must cover 0..{self.num_groups - 1}, each at least once")

    @classmethod
    def from_groups(cls, groups: Sequence[Sequence[ScoredRollout]]) -> RolloutColumns:
        """Stack groups of scored rollouts into columns; group ``i`` of the input gets id ``i``."""
        rollouts = [rollout for group in groups for rollout in group]
        records = [rollout.record for rollout in rollouts]
        codes = {mode: code for code, mode in enumerate(MODES)}
        sizes = np.fromiter((len(group) for group in groups), dtype=np.int64, count=len(groups))
        return cls(
            group_ids=np.repeat(np.arange(len(groups), dtype=np.int64), sizes),
            modes=np.fromiter((codes[r.mode] for r in records), dtype=np.int8, count=len(records)),
            ops_succeeded=np.fromiter((r.ops_succeeded for r in records), dtype=np.int64, count=len(records)),
            ops_attempted=np.fromiter((r.ops_attempted for r in records), dtype=np.int64, count=len(records)),
            complied=np.fromiter((r.complied for r in records), dtype=bool, count=len(records)),
            acc=np.fromiter((r.acc for r in rollouts), dtype=np.float64, count=len(rollouts)),
            fmt=np.fromiter((r.fmt for r in rollouts), dtype=np.float64, count=len(rollouts)),
            num_groups=len(groups),
        )

    def op_counts(self, counting: OpCount) -> np.ndarray:
        """n_vo per row under a counting rule."""
        return self.ops_succeeded if counting == "succeeded" else self.ops_attempted


@dataclasses.dataclass(frozen=True)
class GroupColumns:
    """Per-group facts as arrays (see :class:`GroupInfo`); ``acc_tool``/``acc_no`` are NaN where undefined."""

    size: np.ndarray
    rapr: np.ndarray
    has_probes: np.ndarray
    need: np.ndarray
    acc_tool: np.ndarray
    acc_no: np.ndarray

    def info(self, group: int) -> GroupInfo:
        """The :class:`GroupInfo` of one group, as the reference path reports it."""
        acc_tool, acc_no = float(self.acc_tool[group]), float(self.acc_no[group])
        has_probes = bool(self.has_probes[group])
        return GroupInfo(
            size=int(self.size[group]),
            rapr=float(self.rapr[group]),
            has_probes=has_probes,
            need=bool(self.need[group]) if has_probes else None,
            acc_tool=None if np.isnan(acc_tool) else acc_tool,
            acc_no=None if np.isnan(acc_no) else acc_no,
        )


@dataclasses.dataclass(frozen=True)
class ShapedColumns:
    """Shaped rewards as columns: ``components[name]`` for each of :data:`REWARD_COMPONENTS`, plus the total."""

    rollouts: RolloutColumns
    total: np.ndarray
    components: dict[str, np.ndarray]
    used_tool: np.ndarray
    advantage_group: np.ndarray
    trainable: np.ndarray
    groups: GroupColumns

    def reward(self, row: int) -> ShapedReward:
        """The :class:`ShapedReward` of one row, as the reference path reports it."""
        return ShapedReward(
            float(self.total[row]),
            float(self.rollouts.acc[row]),
            float(self.rollouts.fmt[row]),
            *(float(self.components[name][row]) for name in REWARD_COMPONENTS),
            MODES[self.rollouts.modes[row]],
            bool(self.used_tool[row]),
            ADVANTAGE_GROUP_LABELS[self.advantage_group[row]],
            bool(self.trainable[row]),
        )


def shape_columns(columns: RolloutColumns, config: ShapingConfig) -> ShapedColumns:
    """Shape every group of a batch at once with ``config.method``.

    Args:
        columns: the batch's scored rollouts.
        config: the reward config.

    Returns:
        Per-row components, total, advantage-group codes and trainable flags, and per-group facts.
    """
    counting: OpCount = {"curiosity": config.curiosity.op_count, "look_less": config.look_less.op_count}.get(
        config.method, "succeeded"
    )
    n_ops = columns.op_counts(counting)
    groups = _group_columns(columns, n_ops > 0, config.look_less.margin)
    terms = {"acc_term": columns.acc, "fmt_term": config.format.weight * columns.fmt}
    labels = np.zeros(columns.acc.shape, dtype=np.int8)
    trainable = np.ones(columns.acc.shape, dtype=bool)
    if config.method == "curiosity":
        terms.update(_curiosity_terms(columns, n_ops, groups, config))
    elif config.method == "look_less":
        terms.update(_look_less_terms(columns, n_ops, groups, config))
        labels, trainable = _look_less_groups(columns, config)
    elif config.method == "deepeyes":
        terms.update(_deepeyes_terms(columns, config))
    zeros = np.zeros(columns.acc.shape)
    components = {name: terms.get(name, zeros) for name in REWARD_COMPONENTS}
    total = components[REWARD_COMPONENTS[0]]
    for name in REWARD_COMPONENTS[1:]:
        total = total + components[name]
    return ShapedColumns(columns, total, components, n_ops > 0, labels, trainable, groups)


def _group_columns(columns: RolloutColumns, used: np.ndarray, margin: float) -> GroupColumns:
    ids, num = columns.group_ids, columns.num_groups
    size = np.bincount(ids, minlength=num).astype(np.float64)
    rapr = np.bincount(ids, weights=used.astype(np.float64), minlength=num) / size
    acc_tool = _group_mean(columns, FORCE_TOOL)
    acc_no = _group_mean(columns, NO_TOOL)
    has_probes = ~np.isnan(acc_tool) & ~np.isnan(acc_no)
    need = has_probes & (acc_tool > acc_no + margin)
    return GroupColumns(size.astype(np.int64), rapr, has_probes, need, acc_tool, acc_no)


def _group_mean(columns: RolloutColumns, mode: int) -> np.ndarray:
    """Per-group mean ``r_acc`` of one mode's rows, NaN where the group has none."""
    in_mode = columns.modes == mode
    count = np.bincount(columns.group_ids, weights=in_mode.astype(np.float64), minlength=columns.num_groups)
    # Adding 0.0 for the other rows leaves each running sum unchanged, so the order matches the reference loop.
    total = np.bincount(columns.group_ids, weights=np.where(in_mode, columns.acc, 0.0), minlength=columns.num_groups)
    return np.divide(total, count, out=np.full(columns.num_groups, np.nan), where=count > 0)


def _curiosity_terms(
    columns: RolloutColumns, n_ops: np.ndarray, groups: GroupColumns, config: ShapingConfig
) -> dict[str, np.ndarray]:
    curiosity = config.curiosity
    rapr = groups.rapr[columns.group_ids]
    used = n_ops > 0
    bonus = curiosity.alpha * np.maximum(curiosity.target_rapr - rapr, 0.0)
    if curiosity.variant == "released_code":
        with np.errstate(divide="ignore", invalid="ignore"):  # rapr is 0 only in groups where nobody used a tool
            bonus = bonus / rapr * curiosity.code_scale
    penalty = curiosity.redundancy.beta * np.minimum(curiosity.redundancy.free_ops - n_ops, 0)
    return {"curiosity_bonus": np.where(used, bonus, 0.0), "redundancy_penalty": penalty}


def _look_less_terms(
    columns: RolloutColumns, n_ops: np.ndarray, groups: GroupColumns, config: ShapingConfig
) -> dict[str, np.ndarray]:
    look_less, table = config.look_less, config.look_less.alignment
    adaptive = columns.modes == ADAPTIVE
    used = n_ops > 0
    correct = columns.acc >= config.correct_threshold
    when_needed = np.where(used, np.where(correct, table.b1, table.b2), table.b3)
    when_not_needed = np.where(used, table.c2, np.where(correct, table.c1, table.c3))
    value = np.where(groups.need[columns.group_ids], when_needed, when_not_needed)
    aligned = adaptive & groups.has_probes[columns.group_ids]
    penalty = look_less.redundancy.beta * np.minimum(look_less.redundancy.free_ops - n_ops, 0)
    return {
        "alignment_bonus": np.where(aligned, look_less.lambda_align * value, 0.0),
        "redundancy_penalty": np.where(adaptive, penalty, 0.0),
        "instr_bonus": np.where(~adaptive & columns.complied, look_less.lambda_instr, 0.0),
    }


def _look_less_groups(columns: RolloutColumns, config: ShapingConfig) -> tuple[np.ndarray, np.ndarray]:
    probe_gradient = config.look_less.probe_gradient
    if probe_gradient == "pooled":
        return np.zeros(columns.modes.shape, dtype=np.int8), np.ones(columns.modes.shape, dtype=bool)
    labels = (columns.modes + 1).astype(np.int8)
    trainable = np.ones(columns.modes.shape, dtype=bool) if probe_gradient == "own_group" else columns.modes == ADAPTIVE
    return labels, trainable


def _deepeyes_terms(columns: RolloutColumns, config: ShapingConfig) -> dict[str, np.ndarray]:
    weights = config.deepeyes
    gated = (columns.ops_succeeded > 0) & (columns.acc >= config.correct_threshold)
    return {
        "acc_term": weights.acc_weight * columns.acc,
        "fmt_term": weights.fmt_weight * columns.fmt,
        "tool_bonus": np.where(gated, weights.tool_weight, 0.0),
    }
