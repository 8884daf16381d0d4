"""The group step with the necessity memory and the rows' fields: evidence in, need(x) and Delta S out, metrics.

Groups are given as verl stores them (trajectory keys, ``extra_fields``, the row's ``extra_info``), as in
test_group_step.py; the memory is the real :class:`NecessityMemory` (defaults: prior 1, adaptive_weight 0.5).
"""

from __future__ import annotations

import pytest

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.probing_config import ProbingConfig
from verl_pixel.reward.shaping.group_step import shape_stored_groups
from verl_pixel.reward.shaping.metrics import step_metrics
from verl_pixel.reward.shaping.necessity_memory import NecessityMemory
from verl_pixel.rollout.probe_plan import ProbePlan

ADAPTIVE, FORCE, NO = RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL
LOOK_LESS = ShapingConfig(method="look_less")


def stored(acc: float, ops: int = 0, mode: RolloutMode = ADAPTIVE) -> dict:
    record = TrajectoryRecord(mode=mode, ops_attempted=ops, ops_succeeded=ops)
    return {**record.to_extra_fields(), "reward_extra_info": {"pixel/acc": acc, "pixel/fmt": 0.0}}


def row(plan: ProbePlan | None, **fields) -> dict:
    return {"index": 0, **({"pixel_probe_plan": plan.to_row_field()} if plan else {}), **fields}


def test_memory_takes_the_group_and_answers_need() -> None:
    memory = NecessityMemory(ProbingConfig(enable=True))
    plan = ProbePlan("src/0/abc", adaptive=2, force_tool=1, no_tool=1, reason="new")
    fields = [stored(1.0, 1), stored(0.0), stored(1.0, 1, FORCE), stored(0.0, 0, NO)]
    keys = ["u_0_0", "u_1_0", "u_2_0", "u_3_0"]
    result = shape_stored_groups(keys, fields, LOOK_LESS, [row(plan, needs_zoom=True)] * 4, memory)
    # evidence: with a tool 1 (probe) + 0.5 * 1 (adaptive, right); without 0 + 0.5 * 0 right, 1 + 0.5 wrong
    assert memory.state_dict()["entries"]["src/0/abc"][:4] == [1.5, 0.0, 0.0, 1.5]
    group = result.groups["u"]
    assert (group.context.memory_need, group.info.need, group.info.need_source) == (True, True, "memory")
    assert group.context.memory_gap == 1.0  # observed: 1.5 of 1.5 with a tool, 0 of 1.5 without
    assert (group.context.need_label, group.context.plan) == (True, plan)
    # adaptive: tool + right with need 1 -> 1 + 0.5 * 1.0; no tool + wrong -> 0 + 0.5 * -0.2
    assert [u.score for u in result.updates[:2]] == [1.5, -0.1]


def test_memory_need_replaces_a_visit_without_probes() -> None:
    memory = NecessityMemory(ProbingConfig(enable=True, adaptive_weight=0.0))
    memory.observe("k", [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0])  # earlier visits: text suffices
    plan = ProbePlan("k", adaptive=2, force_tool=0, no_tool=0, reason="settled")
    result = shape_stored_groups(["u_0_0", "u_1_0"], [stored(1.0, 1), stored(1.0)], LOOK_LESS, [row(plan)] * 2, memory)
    info = result.groups["u"].info
    assert (info.has_probes, info.need, info.need_source) == (False, False, "memory")
    # need 0: tool + right -> 1 + 0.5 * -0.2 = 0.9; no tool + right -> 1 + 0.5 * 1.0 = 1.5
    assert [u.score for u in result.updates] == [0.9, 1.5]


def test_without_a_plan_the_probes_decide() -> None:
    memory = NecessityMemory(ProbingConfig(enable=True))
    fields = [stored(1.0, 1), stored(1.0, 1, FORCE), stored(0.0, 0, NO)]
    result = shape_stored_groups(["u_0_0", "u_1_0", "u_2_0"], fields, LOOK_LESS, [row(None)] * 3, memory)
    assert result.groups["u"].info.need_source is None and len(memory) == 0


def test_adatooler_reads_delta_from_the_row() -> None:
    config = ShapingConfig(method="adatooler")
    result = shape_stored_groups(["u_0_0"], [stored(1.0, 6)], config, [row(None, Tool_Benefit_Score=0.5)])
    assert result.updates[0].score == pytest.approx(1.0 + 0.6 * 0.5)  # n_tool = n_max: exp(0) = 1
    with pytest.raises(ValueError, match=r"trajectory u_0_0: extra_info.Tool_Benefit_Score is None"):
        shape_stored_groups(["u_0_0"], [stored(1.0, 6)], config, [row(None)])


def test_hdpo_writes_its_advantages() -> None:
    config = ShapingConfig(method="hdpo")
    result = shape_stored_groups(["u_0_0", "u_1_0"], [stored(1.0), stored(0.0)], config)
    # accuracy 1, 0: mean 0.5, unbiased std sqrt(0.5); one correct rollout: no tool channel
    assert [u.score for u in result.updates] == pytest.approx([0.5 / (0.5**0.5 + 1e-6), -0.5 / (0.5**0.5 + 1e-6)])
    assert [u.advantage_uid for u in result.updates] == ["u", "u"]


def test_malformed_plan_names_the_trajectory() -> None:
    with pytest.raises(ValueError, match=r"trajectory u_0_0: extra_info.pixel_probe_plan: missing adaptive"):
        shape_stored_groups(["u_0_0"], [stored(1.0)], LOOK_LESS, [{"pixel_probe_plan": {"key": "k"}}])


def test_context_metrics() -> None:
    memory = NecessityMemory(ProbingConfig(enable=True, adaptive_weight=0.0))
    memory.observe("a", [1.0] * 4, [0.0] * 4)  # need
    memory.observe("b", [0.0] * 4, [1.0] * 4)  # no need
    plans = {"a": ProbePlan("a", 2, 0, 0, "settled"), "b": ProbePlan("b", 2, 1, 1, "reprobe")}
    keys = ["a_0_0", "a_1_0", "b_0_0", "b_1_0", "b_2_0", "b_3_0"]
    fields = [stored(1.0, 1), stored(1.0), stored(1.0, 1), stored(1.0), stored(0.0, 1, FORCE), stored(1.0, 0, NO)]
    # group a is labelled needs_zoom (memory agrees); group b is labelled needs_zoom too (memory says no)
    infos = [row(plans["a"], needs_zoom=True)] * 2 + [row(plans["b"], needs_zoom=True)] * 4
    result = shape_stored_groups(keys, fields, LOOK_LESS, infos, memory)
    m = step_metrics(list(result.groups.values()))
    assert m["pixel/group/size"] == 3.0  # 2 and 4 rollouts
    assert m["pixel/probe/rollouts"] == 1.0  # 0 and 2 probes
    assert (m["pixel/probe/plan/settled"], m["pixel/probe/plan/reprobe"]) == (0.5, 0.5)
    assert m["pixel/memory/need_rate"] == 0.5
    assert m["pixel/need/agreement"] == 0.5
    assert m["pixel/rapr/adaptive/need"] == 0.5  # adaptive rollouts of labelled groups: 2 of 4 used a tool
    assert "pixel/rapr/adaptive/no_need" not in m and "pixel/exceeded_fraction" not in m
