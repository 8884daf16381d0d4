"""What one prompt group is told from outside its rollouts: the row's fields and the necessity memory (pure).

The group step (:func:`verl_pixel.reward.shaping.group_step.shape_stored_groups`) calls :func:`group_context` once per
finished prompt group, with the row's ``extra_info`` as verl stored it beside the trajectories:

* ``pixel_probe_plan`` (:mod:`verl_pixel.rollout.probe_plan`): with the memory on, the visit's plan; its ``key``
  names the prompt in the memory, which first takes the group's evidence
  (:meth:`~verl_pixel.reward.shaping.necessity_memory.NecessityMemory.observe_group`: probes by mode, adaptive
  rollouts by whether they used a tool; under ``ignore_exceed`` the exceeded rollouts are left out, as from the
  shaping) and then answers need(x) and the gap for the shaping. Each group is observed exactly once: the replay
  buffer shapes a group once;
* ``needs_zoom``: the row's need label, for the step metrics only;
* ``adatooler.delta_field`` (``Tool_Benefit_Score``): AdaTooler-V's Delta S, when ``adatooler.delta_source=row``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from verl_pixel.constants import NEED_LABEL_FIELD
from verl_pixel.record import RolloutMode
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.necessity_memory import GroupOutcomes, NecessityMemory
from verl_pixel.reward.shaping.shaped_reward import GroupContext, ScoredRollout
from verl_pixel.rollout.probe_plan import plan_of_row


def group_outcomes(rollouts: Sequence[ScoredRollout], config: ShapingConfig) -> GroupOutcomes:
    """The group's ``r_acc`` values as memory evidence (exceeded rollouts left out under ``ignore_exceed``)."""
    kept = [r for r in rollouts if not (config.ignore_exceed and r.record.stop_reason.value in config.exceed_stops)]

    complied_only = config.look_less.probe_accuracy == "complied"  # a probe that disobeyed is no evidence

    def accs(mode: RolloutMode, used: bool | None = None) -> tuple[float, ...]:
        return tuple(r.acc for r in kept if r.record.mode is mode and (used is None or r.record.used_tool == used))

    def probe_accs(mode: RolloutMode) -> tuple[float, ...]:
        return tuple(r.acc for r in kept if r.record.mode is mode and (r.record.complied or not complied_only))

    return GroupOutcomes(
        force_tool=probe_accs(RolloutMode.FORCE_TOOL),
        no_tool=probe_accs(RolloutMode.NO_TOOL),
        adaptive_tool=accs(RolloutMode.ADAPTIVE, True),
        adaptive_no_tool=accs(RolloutMode.ADAPTIVE, False),
    )


def group_context(
    extra_info: Any,
    rollouts: Sequence[ScoredRollout],
    config: ShapingConfig,
    memory: NecessityMemory | None,
    where: str,
) -> GroupContext:
    """Build one group's context, updating ``memory`` with the group's evidence (module docstring).

    Args:
        extra_info: the row's ``extra_info`` as stored with the group's trajectories (None if absent).
        rollouts: the group's scored rollouts.
        config: the reward config.
        memory: the necessity memory, or None when ``pixel.probing`` is off.
        where: names the group in errors (a trajectory key).

    Raises:
        ValueError: naming ``where`` and the field, for a malformed plan or, with ``adatooler.delta_source=row``,
            a missing or non-numeric Delta S.
    """
    info = extra_info if isinstance(extra_info, Mapping) else {}
    try:
        plan = plan_of_row(info)
    except ValueError as err:
        raise ValueError(f"group step: trajectory {where}: extra_info.{err}") from None
    label = info.get(NEED_LABEL_FIELD)
    context = GroupContext(
        need_label=None if label is None else bool(label),
        plan=plan,
        tool_benefit=_tool_benefit(info, config, where),
    )
    if memory is None or plan is None:
        return context
    memory.observe_group(plan.key, group_outcomes(rollouts, config))
    found = memory.estimate(plan.key)
    if found is None:
        return context
    return dataclasses.replace(context, memory_need=found.need, memory_gap=found.gap)


def _tool_benefit(info: Mapping[str, Any], config: ShapingConfig, where: str) -> float | None:
    if config.method != "adatooler" or config.adatooler.delta_source != "row":
        return None
    field = config.adatooler.delta_field
    value = info.get(field)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(
            f"group step: trajectory {where}: extra_info.{field} is {value!r}; pixel.reward.adatooler."
            "delta_source=row needs AdaTooler-V's per-row Tool Benefit Score (a number in [-1, 1]) in every "
            "training row (or use delta_source=probes)"
        )
    return float(value)
