import re

import pytest

from verl_pixel.record import RolloutMode, StopReason, TrajectoryRecord
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping import metrics as metrics_module
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.metrics import step_metrics
from verl_pixel.reward.shaping.shaped_reward import ScoredRollout

FORCE, NO, ADAPT = RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL, RolloutMode.ADAPTIVE


def scored(acc: float, mode: RolloutMode = ADAPT, ok: int = 0, failed: int = 0, **fields) -> ScoredRollout:
    record = TrajectoryRecord(mode=mode, ops_attempted=ok + failed, ops_succeeded=ok, ops_failed=failed, **fields)
    return ScoredRollout(record, acc, -1.0 if failed else 0.0)


@pytest.fixture
def step():
    config = ShapingConfig(method="look_less")
    # Group 1 (probes + adaptive): force_tool right with 1 op -> 1 + 0.5 = 1.5; no_tool wrong -> 0 + 0.5 = 0.5;
    # need = 1 (1 > 0). Adaptive: right with 2 ops (+1 failed call) -> 1 - 0.05 + 0.5*1 = 1.45;
    # wrong without a tool -> 0 + 0.5*-0.2 = -0.1.
    group1 = [
        scored(1.0, FORCE, ok=1, turns=2, images_added=1, tool_visual_tokens=100),
        scored(0.0, NO),
        scored(1.0, ok=2, failed=1, turns=4, images_added=2, tool_visual_tokens=300),
        scored(0.0),
    ]
    # Group 2 (adaptive only, no probes -> need undefined): 1.0 and 0.0; the second hit the turn limit.
    group2 = [scored(1.0), scored(0.0, stop_reason=StopReason.MAX_TURNS)]
    return [shape_group(group1, config), shape_group(group2, config)]


def test_step_metrics_hand_computed(step) -> None:
    m = step_metrics(step)
    expected = {
        "pixel/rollouts": 6.0,
        "pixel/groups": 2.0,
        "pixel/reward/total": (1.5 + 0.5 + 1.45 - 0.1 + 1.0 + 0.0) / 6,
        "pixel/reward/acc": 3 / 6,
        "pixel/reward/fmt": -1 / 6,
        "pixel/reward/acc_term": 3 / 6,
        "pixel/reward/fmt_term": 0.0,
        "pixel/reward/curiosity_bonus": 0.0,
        "pixel/reward/redundancy_penalty": -0.05 / 6,
        "pixel/reward/instr_bonus": 1.0 / 6,
        "pixel/reward/alignment_bonus": (0.5 - 0.1) / 6,
        "pixel/reward/tool_bonus": 0.0,
        "pixel/reward/tool_benefit": 0.0,
        "pixel/reward/tool_efficiency": 0.0,
        "pixel/rapr": 2 / 6,
        "pixel/rapr/force_tool": 1.0,
        "pixel/rapr/no_tool": 0.0,
        "pixel/rapr/adaptive": 1 / 4,
        "pixel/acc/force_tool": 1.0,
        "pixel/acc/no_tool": 0.0,
        "pixel/acc/adaptive": 2 / 4,
        "pixel/compliance/force_tool": 1.0,
        "pixel/compliance/no_tool": 1.0,
        "pixel/compliance/adaptive": 1.0,
        "pixel/group/rapr": (2 / 4 + 0.0) / 2,
        "pixel/group/any_tool_rate": 0.5,
        "pixel/probe/present_rate": 0.5,
        "pixel/probe/defined_rate": 0.5,
        "pixel/probe/need_rate": 1.0,
        "pixel/probe/acc_tool": 1.0,
        "pixel/probe/acc_no": 0.0,
        "pixel/probe/acc_gap": 1.0,
        "pixel/ops/attempted": 4 / 6,
        "pixel/ops/succeeded": 3 / 6,
        "pixel/ops/failed_rate": 1 / 4,
        "pixel/turns": (2 + 1 + 4 + 1 + 1 + 1) / 6,
        "pixel/images_added": 3 / 6,
        "pixel/tool_visual_tokens": 400 / 6,
        "pixel/stop/answered": 5 / 6,
        "pixel/stop/max_turns": 1 / 6,
        "pixel/trainable_fraction": 1.0,
        "pixel/group/size": 6 / 2,
    }
    assert m.keys() == expected.keys()
    assert m == pytest.approx(expected)
    assert all(isinstance(value, float) for value in m.values())


def test_absent_populations_are_left_out() -> None:
    result = shape_group([scored(1.0), scored(0.0)], ShapingConfig(method="curiosity"))
    m = step_metrics([result])
    assert "pixel/probe/need_rate" not in m and "pixel/rapr/force_tool" not in m
    assert m["pixel/probe/defined_rate"] == m["pixel/probe/present_rate"] == 0.0 and m["pixel/ops/failed_rate"] == 0.0
    assert step_metrics([]) == {}


def test_every_emitted_name_is_documented(step) -> None:
    documented = set(re.findall(r"``(pixel/[^`]+)``", metrics_module.__doc__))
    for name in step_metrics(step):
        generic = re.sub(r"^pixel/(rapr|acc|compliance)/\w+$", r"pixel/\1/<mode>", name)
        generic = re.sub(r"^pixel/stop/\w+$", "pixel/stop/<reason>", generic)
        generic = re.sub(
            r"^pixel/reward/(acc_term|fmt_term|\w+_bonus|redundancy_penalty|tool_benefit|tool_efficiency)$",
            "pixel/reward/<component>",
            generic,
        )
        assert generic in documented, name
