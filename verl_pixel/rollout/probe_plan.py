"""A prompt's probe plan for one visit, and how it travels from the trainer's dataset to the agent loop (pure).

With the necessity memory on (``pixel.probing.enable``), Look Less no longer runs its full force_tool / no_tool
probes on every prompt every time. The memory (:mod:`verl_pixel.reward.shaping.necessity_memory`) decides per
prompt per visit how many probes to run; this module is the plan it decides and the channel that carries it.

The channel, through verl 0.9.1's own extension points (no trainer code forked or patched):

1. ``PixelRLDataset.__getitem__`` (``data.custom_cls``) runs in the trainer process when verl's dataloader fetches
   the row for submission, i.e. before any of its rollouts start. It asks the memory for the row's plan and writes
   it into the row: ``extra_info["pixel_probe_plan"]`` (:meth:`ProbePlan.to_row_field`) and ``__rollout_n__``, the
   per-row rollout count verl's ``AgentLoopWorkerTQ._run_prompt`` pops in place of ``rollout.n`` ("user can
   dynamically adjust n for each sample here"). A settled prompt therefore generates fewer rollouts: the probes
   it skips are never generated.
2. verl hands every row column to the agent loop as keyword arguments; ``pixel_agent`` reads the plan from
   ``extra_info`` (:func:`plan_of_row`) and takes its session's mode from it (:meth:`ProbePlan.mode_for_session`).
3. verl stores the row's columns with every trajectory in TransferQueue; the group-shaping replay buffer reads the
   plan's ``key`` back to update the memory with the group's probe results and to look up need(x).

Session order is METHOD §2's: adaptive first (sessions ``0 .. adaptive-1``), then force_tool, then no_tool, so a
group of one (validation) is adaptive and the adaptive rollouts are the same sessions whatever the plan. A row
without a plan (validation rows, or the memory off) uses the static ``pixel.rollout.mode_layout``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from verl_pixel.constants import PROBE_PLAN_FIELD
from verl_pixel.record import RolloutMode

# Why the memory chose a plan: no evidence yet / still uncertain (full probes), leaning one way (few probes), need
# settled (no probes), settled but due for a look (few probes: the policy changes).
PlanReason = Literal["new", "uncertain", "leaning", "settled", "reprobe"]
PLAN_REASONS: tuple[str, ...] = ("new", "uncertain", "leaning", "settled", "reprobe")


@dataclasses.dataclass(frozen=True)
class ProbePlan:
    """How one prompt's group runs on one visit.

    Attributes:
        key: the prompt's stable key (:func:`verl_pixel.reward.shaping.necessity_memory.prompt_key`).
        adaptive: adaptive rollouts (the layout's count; never reduced).
        force_tool: force_tool probes this visit.
        no_tool: no_tool probes this visit.
        reason: why the memory chose these counts.
    """

    key: str
    adaptive: int
    force_tool: int
    no_tool: int
    reason: PlanReason = "new"

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"{PROBE_PLAN_FIELD}.key: expected a non-empty string, got {self.key!r}")
        for name in ("adaptive", "force_tool", "no_tool"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{PROBE_PLAN_FIELD}.{name}: expected an integer >= 0, got {value!r}")
        if self.group_size < 1:
            raise ValueError(f"{PROBE_PLAN_FIELD}: a group needs at least one rollout, got {self}")
        if self.reason not in PLAN_REASONS:
            raise ValueError(f"{PROBE_PLAN_FIELD}.reason: {self.reason!r} is not one of {', '.join(PLAN_REASONS)}")

    @property
    def group_size(self) -> int:
        """Rollouts of the group this visit (verl's ``__rollout_n__``)."""
        return self.adaptive + self.force_tool + self.no_tool

    @property
    def probes(self) -> int:
        """Probe rollouts this visit."""
        return self.force_tool + self.no_tool

    def mode_for_session(self, session_id: int | None) -> RolloutMode:
        """The mode of session ``session_id`` (adaptive, then force_tool, then no_tool; out of range: adaptive)."""
        if session_id is None or session_id < self.adaptive:
            return RolloutMode.ADAPTIVE
        if session_id < self.adaptive + self.force_tool:
            return RolloutMode.FORCE_TOOL
        if session_id < self.group_size:
            return RolloutMode.NO_TOOL
        return RolloutMode.ADAPTIVE

    def to_row_field(self) -> dict[str, Any]:
        """The plain dict stored under ``extra_info["pixel_probe_plan"]``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_row_field(cls, data: Mapping[str, Any]) -> ProbePlan:
        """Read a plan back from a row (numpy scalars after a trip through verl are accepted).

        Raises:
            ValueError: naming the field, for a malformed plan.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"{PROBE_PLAN_FIELD}: expected a mapping, got {data!r}")
        missing = [name for name in ("key", "adaptive", "force_tool", "no_tool") if data.get(name) is None]
        if missing:
            raise ValueError(f"{PROBE_PLAN_FIELD}: missing {', '.join(missing)} in {dict(data)!r}")
        counts = {}
        for name in ("adaptive", "force_tool", "no_tool"):
            value = data[name]
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"{PROBE_PLAN_FIELD}.{name}: expected an integer, got {value!r}")
            counts[name] = int(value)
        return cls(key=str(data["key"]), reason=str(data.get("reason") or "new"), **counts)  # type: ignore[arg-type]


def plan_of_row(extra_info: Any) -> ProbePlan | None:
    """The plan a row carries in its ``extra_info``, or None (no plan: the static layout applies).

    Raises:
        ValueError: naming the field, for a plan that is present but malformed.
    """
    if not isinstance(extra_info, Mapping) or extra_info.get(PROBE_PLAN_FIELD) is None:
        return None
    return ProbePlan.from_row_field(extra_info[PROBE_PLAN_FIELD])
