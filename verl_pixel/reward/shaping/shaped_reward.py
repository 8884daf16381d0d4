"""The data that group shaping takes and returns: scored rollouts in, shaped rewards and group facts out.

Every reward is reported as separate components so each can be logged (METHOD §3, §6). Their sum, in this
fixed order, is the total (a fixed order keeps totals bit-identical across Python versions)::

    total = acc_term + fmt_term + curiosity_bonus + redundancy_penalty + instr_bonus + alignment_bonus + tool_bonus
            + tool_benefit + tool_efficiency

A method that normalises its channels itself (HDPO) also returns per-rollout advantages
(:attr:`GroupShaping.advantages`); then the total is for logging and the advantages are what trains.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.config import OpCount, ShapingConfig
from verl_pixel.reward.scoring.trajectory_score import ACC_KEY, ANSWER_MARKED_KEY, FMT_KEY
from verl_pixel.rollout.probe_plan import ProbePlan

# Advantage-group label for rollouts that share the prompt's single GRPO group.
SHARED_ADVANTAGE_GROUP = "all"

REWARD_COMPONENTS = (
    "acc_term",
    "fmt_term",
    "curiosity_bonus",
    "redundancy_penalty",
    "instr_bonus",
    "alignment_bonus",
    "tool_bonus",
    "tool_benefit",
    "tool_efficiency",
)


@dataclasses.dataclass(frozen=True)
class ScoredRollout:
    r"""One rollout as group shaping needs it: its record plus its per-trajectory scores.

    Attributes:
        record: what the rollout did.
        acc: ``r_acc`` in [0, 1].
        fmt: ``r_fmt`` in [-1, 0].
        answer_marked: the response marked its answer (a non-empty ``\boxed{}`` or ``<answer>``).
    """

    record: TrajectoryRecord
    acc: float
    fmt: float = 0.0
    answer_marked: bool = True

    def __post_init__(self) -> None:
        # Scores come from our own scorer; an out-of-range one is an upstream bug, not model output.
        if isinstance(self.acc, bool) or not (isinstance(self.acc, (int, float)) and 0.0 <= self.acc <= 1.0):
            raise ValueError(f"ScoredRollout.acc: expected a number in [0, 1], got {self.acc!r}")
        if isinstance(self.fmt, bool) or not (isinstance(self.fmt, (int, float)) and -1.0 <= self.fmt <= 0.0):
            raise ValueError(f"ScoredRollout.fmt: expected a number in [-1, 0], got {self.fmt!r}")

    @classmethod
    def from_extra_fields(cls, data: Mapping[str, Any]) -> ScoredRollout:
        """Read a rollout back from verl ``extra_fields`` (record fields plus ``pixel/acc``, ``pixel/fmt``).

        Raises:
            ValueError: if ``pixel/acc`` is missing or a field is malformed.
        """
        acc_key, fmt_key = ACC_KEY, FMT_KEY
        if data.get(acc_key) is None:
            raise ValueError(f"extra fields: {acc_key} missing (was the trajectory scored by score_trajectory?)")
        fmt, marked = data.get(fmt_key), data.get(ANSWER_MARKED_KEY)
        return cls(
            TrajectoryRecord.from_mapping(data),
            float(data[acc_key]),
            0.0 if fmt is None else float(fmt),
            True if marked is None else bool(marked),
        )


@dataclasses.dataclass(frozen=True)
class ShapedReward:
    """The shaped reward of one rollout, by component.

    Attributes:
        total: the reward the advantage estimator should use.
        acc: raw ``r_acc``.
        fmt: raw ``r_fmt``.
        acc_term: accuracy's contribution (``r_acc``; ``0.8 r_acc`` for DeepEyes).
        fmt_term: format's contribution (``weight * r_fmt``).
        curiosity_bonus: Pixel Reasoner ``alpha * max(H - RaPR, 0) * 1[used]`` (``* 0.25/RaPR`` in the code variant).
        redundancy_penalty: ``beta * min(N - n_vo, 0)`` (curiosity; Look Less adaptive rollouts).
        instr_bonus: Look Less probe ``lambda_instr * 1[complied]``.
        alignment_bonus: Look Less adaptive ``lambda_align * A(need, used, correct)``.
        tool_bonus: DeepEyes ``1.2 * 1[used and correct]``.
        tool_benefit: AdaTooler-V ``alpha * Delta S * exp(-gamma ((n_tool - n_max) / n_max)^2)``.
        tool_efficiency: HDPO's tool reward ``1 / (T + 1)`` of a correct rollout (its own advantage channel).
        mode: the rollout's mode.
        used_tool: whether the rollout counts as having used a visual operation under the method's counting.
        advantage_group: label of the advantage group the rollout belongs to within its prompt
            (``"all"``, or the mode's value when Look Less probes get their own groups).
        trainable: whether the rollout should contribute gradient.
    """

    total: float
    acc: float
    fmt: float
    acc_term: float
    fmt_term: float
    curiosity_bonus: float
    redundancy_penalty: float
    instr_bonus: float
    alignment_bonus: float
    tool_bonus: float
    tool_benefit: float
    tool_efficiency: float
    mode: RolloutMode
    used_tool: bool
    advantage_group: str
    trainable: bool


@dataclasses.dataclass(frozen=True)
class GroupInfo:
    """Facts about one prompt's group of rollouts.

    Attributes:
        size: number of rollouts.
        rapr: fraction of the group's rollouts that used a visual operation (under the method's counting).
        has_probes: the group holds both ``force_tool`` and ``no_tool`` rollouts (need(x) is defined when
            acc_tool and acc_no are: obeying probes of both modes, under ``probe_accuracy: complied``).
        need: Look Less need(x); None when undefined (no probes and no memory, or another method).
        acc_tool: mean ``r_acc`` of the ``force_tool`` rollouts; None if there are none.
        acc_no: mean ``r_acc`` of the ``no_tool`` rollouts; None if there are none.
        need_source: ``memory`` when need(x) is the necessity memory's (``pixel.probing``), else None (the probes').
        exceeded: rollouts left out under ``ignore_exceed`` (not counted in ``size``).
    """

    size: int
    rapr: float
    has_probes: bool
    need: bool | None
    acc_tool: float | None
    acc_no: float | None
    need_source: str | None = None
    exceeded: int = 0


@dataclasses.dataclass(frozen=True)
class GroupContext:
    """What one prompt's group cannot tell from its own rollouts, given from outside (every field optional).

    Attributes:
        memory_need: the necessity memory's need(x), after this group's evidence (``pixel.probing``).
        memory_gap: the memory's acc_tool - acc_no (posterior means).
        tool_benefit: AdaTooler-V's Delta S from the row (``adatooler.delta_field``).
        need_label: the row's ``needs_zoom`` label, for metrics only (no reward reads it).
        plan: the visit's probe plan, for metrics.
    """

    memory_need: bool | None = None
    memory_gap: float | None = None
    tool_benefit: float | None = None
    need_label: bool | None = None
    plan: ProbePlan | None = None


NO_CONTEXT = GroupContext()


@dataclasses.dataclass(frozen=True)
class GroupShaping:
    """The result of shaping one prompt's group: rollouts, their rewards (same order) and the group facts.

    ``advantages`` (same order) is set by a method that normalises its own channels (HDPO): the replay buffer then
    writes them in place of the totals, for ``algorithm.adv_estimator=pixel_precomputed`` to pass through.
    """

    rollouts: tuple[ScoredRollout, ...]
    rewards: tuple[ShapedReward, ...]
    info: GroupInfo
    context: GroupContext = NO_CONTEXT
    advantages: tuple[float, ...] | None = None


def build_reward(
    rollout: ScoredRollout, *, used_tool: bool, advantage_group: str, trainable: bool = True, **terms: float
) -> ShapedReward:
    """Assemble a :class:`ShapedReward`; ``terms`` are the components, absent ones 0.0, summed in fixed order.

    Raises:
        TypeError: for a term that is not one of :data:`REWARD_COMPONENTS`.
    """
    unknown = set(terms) - set(REWARD_COMPONENTS)
    if unknown:
        raise TypeError(f"unknown reward component(s): {sorted(unknown)}")
    values = [terms.get(name, 0.0) for name in REWARD_COMPONENTS]
    total = values[0]
    for value in values[1:]:
        total = total + value
    return ShapedReward(
        total, rollout.acc, rollout.fmt, *values, rollout.record.mode, used_tool, advantage_group, trainable
    )


def op_count(record: TrajectoryRecord, counting: OpCount) -> int:
    """n_vo of a rollout: its successful or its attempted visual operations."""
    return record.ops_succeeded if counting == "succeeded" else record.ops_attempted


def redundancy_penalty(n_ops: int, beta: float, free_ops: int) -> float:
    """``beta * min(N - n_vo, 0)``: -beta per operation beyond the first N; 0.0 otherwise."""
    return beta * min(free_ops - n_ops, 0)


def mean_or_none(values: list[float]) -> float | None:
    """Mean accumulated left to right, None for no values.

    Not ``sum()``: from Python 3.12 on it compensates float rounding, so totals would differ between Python versions
    (and from numpy's sums in the tests' hand computations).
    """
    if not values:
        return None
    total = 0.0
    for value in values:
        total += value
    return total / len(values)


def check_group(rollouts: tuple[ScoredRollout, ...]) -> None:
    """Reject an empty group (a caller bug: every prompt has at least one rollout).

    Raises:
        ValueError: if the group is empty.
    """
    if not rollouts:
        raise ValueError("group shaping: a group needs at least one rollout")


def group_info(
    group: tuple[ScoredRollout, ...], counting: OpCount, margin: float, complied_only: bool = True
) -> GroupInfo:
    """Compute RaPR and the Look Less probe statistics of a group.

    need(x) = 1 iff ``acc_tool > acc_no + margin`` (a tie means no tool); undefined (None) unless the group has
    ``force_tool`` and ``no_tool`` rollouts — with ``complied_only`` (``look_less.probe_accuracy: complied``),
    rollouts that obeyed their mode.
    """
    used = sum(1 for rollout in group if op_count(rollout.record, counting) > 0)

    def probe_acc(mode: RolloutMode) -> float | None:
        return mean_or_none(
            [r.acc for r in group if r.record.mode is mode and (r.record.complied or not complied_only)]
        )

    modes = {rollout.record.mode for rollout in group}
    present = RolloutMode.FORCE_TOOL in modes and RolloutMode.NO_TOOL in modes
    acc_tool, acc_no = probe_acc(RolloutMode.FORCE_TOOL), probe_acc(RolloutMode.NO_TOOL)
    if acc_tool is None or acc_no is None:
        return GroupInfo(len(group), used / len(group), present, None, acc_tool, acc_no)
    return GroupInfo(len(group), used / len(group), present, acc_tool > acc_no + margin, acc_tool, acc_no)


def probe_group_info(group: tuple[ScoredRollout, ...], counting: OpCount, config: ShapingConfig) -> GroupInfo:
    """:func:`group_info` with the run's Look Less probe settings, read in one place for every method."""
    look_less = config.look_less
    return group_info(group, counting, look_less.margin, look_less.probe_accuracy == "complied")
