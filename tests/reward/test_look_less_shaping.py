"""Look Less dual rollouts (defaults: lambda_instr = lambda_align = 0.5, b = (1, .2, -.2), c = (1, -.2, .2), beta .05).

Layout force_tool:4, no_tool:4, adaptive:8. Expected totals follow the implementation's addition order
(acc_term + fmt_term + redundancy + instr + alignment), so floats compare with ==.
"""

import pytest

from verl_pixel.record import RolloutMode
from verl_pixel.reward.config import LookLessConfig, ShapingConfig
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.look_less import alignment_value
from verl_pixel.reward.shaping.shaped_reward import GroupInfo

FORCE, NO, ADAPT = RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL, RolloutMode.ADAPTIVE
CONFIG = ShapingConfig(method="look_less")


def probes(make_rollout, force_accs, no_accs):
    force = [make_rollout(acc, 1, mode=FORCE) for acc in force_accs]
    no = [make_rollout(acc, 0, mode=NO) for acc in no_accs]
    return force + no


def adaptive_quad(make_rollout):
    # used+correct, used+wrong, no tool+correct, no tool+wrong
    return [make_rollout(1.0, 1), make_rollout(0.0, 1), make_rollout(1.0), make_rollout(0.0)]


def test_need_one(make_rollout) -> None:
    # acc_tool = 3/4 = 0.75 > acc_no = 1/4 = 0.25 -> need = 1.
    # adaptive: used+correct 1 + .5*1 = 1.5 | used+wrong 0 + .5*.2 = 0.1 | no tool+correct 1 + .5*-.2 = 0.9 |
    #           no tool+wrong 0 + .5*-.2 = -0.1 | 3 ops+correct 1 - 0.1 + 0.5 = 1.4 (redundancy 0.05 * (1 - 3))
    group = probes(make_rollout, [1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    group += adaptive_quad(make_rollout) + [make_rollout(1.0, 3)] + [make_rollout(0.0)] * 3
    result = shape_group(group, CONFIG)
    assert result.info == GroupInfo(size=16, rapr=7 / 16, has_probes=True, need=True, acc_tool=0.75, acc_no=0.25)
    adaptive = [r.total for r in result.rewards[8:]]
    assert adaptive == [
        1.0 + 0.5 * 1.0,
        0.0 + 0.5 * 0.2,
        1.0 + 0.5 * -0.2,
        0.0 + 0.5 * -0.2,
        1.0 + 0.05 * -2 + 0.5 * 1.0,
        0.0 + 0.5 * -0.2,
        0.0 + 0.5 * -0.2,
        0.0 + 0.5 * -0.2,
    ]
    assert adaptive == pytest.approx([1.5, 0.1, 0.9, -0.1, 1.4, -0.1, -0.1, -0.1])
    # probes: acc + 0.5 for complying (force_tool used a tool; no_tool did not), no alignment, no penalty
    assert [r.total for r in result.rewards[:8]] == [1.5, 1.5, 1.5, 0.5, 1.5, 0.5, 0.5, 0.5]
    assert all(r.alignment_bonus == 0.0 and r.redundancy_penalty == 0.0 for r in result.rewards[:8])
    assert all(r.instr_bonus == 0.0 for r in result.rewards[8:])


def test_tie_means_no_tool(make_rollout) -> None:
    # acc_tool = 2/4 = acc_no = 2/4 -> need = 0.
    # adaptive: used+correct 1 + .5*-.2 = 0.9 | used+wrong 0 - 0.1 | no tool+correct 1 + .5*1 = 1.5 | no tool+wrong 0.1
    group = probes(make_rollout, [1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]) + adaptive_quad(make_rollout)
    result = shape_group(group, CONFIG)
    assert result.info.need is False and result.info.acc_tool == result.info.acc_no == 0.5
    assert [r.total for r in result.rewards[8:]] == [
        1.0 + 0.5 * -0.2,
        0.0 + 0.5 * -0.2,
        1.0 + 0.5 * 1.0,
        0.0 + 0.5 * 0.2,
    ]


def test_margin(make_rollout) -> None:
    # acc_tool 0.75 vs acc_no 0.5: need = 1 with margin 0, need = 0 with margin 0.25 (0.75 > 0.75 is false)
    group = probes(make_rollout, [1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]) + adaptive_quad(make_rollout)
    assert shape_group(group, CONFIG).info.need is True
    strict = ShapingConfig(method="look_less", look_less=LookLessConfig(margin=0.25))
    assert shape_group(group, strict).info.need is False


def test_all_correct_and_all_wrong_probes_mean_no_tool(make_rollout) -> None:
    # all probes right (1 vs 1) or all wrong (0 vs 0): ties -> need 0; skipping the tool is rewarded
    for acc in (1.0, 0.0):
        group = probes(make_rollout, [acc] * 4, [acc] * 4) + adaptive_quad(make_rollout)
        result = shape_group(group, CONFIG)
        assert result.info.need is False
        assert [r.alignment_bonus for r in result.rewards[8:]] == [0.5 * -0.2, 0.5 * -0.2, 0.5 * 1.0, 0.5 * 0.2]


def test_non_compliant_probes_get_no_instruction_bonus(make_rollout) -> None:
    # a force_tool rollout that never zoomed, and a no_tool rollout that tried a call, both correct
    group = [make_rollout(1.0, 0, mode=FORCE, complied=False), make_rollout(1.0, 0, mode=NO, failed=1, complied=False)]
    result = shape_group([*group, make_rollout(1.0)], CONFIG)
    assert [r.instr_bonus for r in result.rewards] == [0.0, 0.0, 0.0]
    assert [r.total for r in result.rewards[:2]] == [1.0, 1.0]


@pytest.mark.parametrize(
    ("layout", "acc_tool", "acc_no"),
    [("adaptive only", None, None), ("no no_tool", 1.0, None), ("no force_tool", None, 0.0)],
)
def test_missing_probes_leave_need_undefined(make_rollout, layout: str, acc_tool, acc_no) -> None:
    group = [*adaptive_quad(make_rollout), make_rollout(1.0, 2)]
    if acc_tool is not None:
        group.append(make_rollout(acc_tool, 1, mode=FORCE))
    if acc_no is not None:
        group.append(make_rollout(acc_no, 0, mode=NO))
    result = shape_group(group, CONFIG)
    assert (result.info.has_probes, result.info.need) == (False, None)
    assert (result.info.acc_tool, result.info.acc_no) == (acc_tool, acc_no)
    # no alignment term; the redundancy penalty still applies (2 ops -> -0.05)
    assert [r.alignment_bonus for r in result.rewards[:5]] == [0.0] * 5
    assert [r.total for r in result.rewards[:5]] == [1.0, 0.0, 1.0, 0.0, 1.0 + 0.05 * -1]


def test_correct_threshold_for_partial_credit(make_rollout) -> None:
    # need = 1 (acc_tool 1 vs acc_no 0). An ANLS score of 0.6 used a tool: correct at threshold 0.5 (b1),
    # wrong at threshold 0.7 (b2).
    group = [*probes(make_rollout, [1.0] * 4, [0.0] * 4), make_rollout(0.6, 1)]
    assert shape_group(group, CONFIG).rewards[-1].total == 0.6 + 0.5 * 1.0
    strict = ShapingConfig(method="look_less", correct_threshold=0.7)
    assert shape_group(group, strict).rewards[-1].total == 0.6 + 0.5 * 0.2


def test_partial_probe_accuracies_average(make_rollout) -> None:
    # ANLS-style partial credit in the probes: acc_tool = (0.75 + 0.5 + 0 + 0)/4 = 0.3125, acc_no = 0.25 / 4
    group = [*probes(make_rollout, [0.75, 0.5, 0.0, 0.0], [0.25, 0.0, 0.0, 0.0]), make_rollout(1.0)]
    info = shape_group(group, CONFIG).info
    assert (info.acc_tool, info.acc_no, info.need) == (0.3125, 0.0625, True)


def test_op_count_attempted(make_rollout) -> None:
    # need = 0; an adaptive rollout that only *attempted* a call counts as used under op_count="attempted" (c2)
    group = [*probes(make_rollout, [0.0] * 4, [1.0] * 4), make_rollout(1.0, 0, failed=1)]
    assert shape_group(group, CONFIG).rewards[-1].alignment_bonus == 0.5 * 1.0
    attempted = ShapingConfig(method="look_less", look_less=LookLessConfig(op_count="attempted"))
    assert shape_group(group, attempted).rewards[-1].alignment_bonus == 0.5 * -0.2


@pytest.mark.parametrize(
    ("probe_gradient", "labels", "trainable"),
    [
        ("own_group", ["force_tool", "no_tool", "adaptive"], [True, True, True]),
        ("pooled", ["all", "all", "all"], [True, True, True]),
        ("off", ["force_tool", "no_tool", "adaptive"], [False, False, True]),
    ],
)
def test_probe_gradient_switch(make_rollout, probe_gradient: str, labels: list[str], trainable: list[bool]) -> None:
    config = ShapingConfig(method="look_less", look_less=LookLessConfig(probe_gradient=probe_gradient))
    group = [make_rollout(1.0, 1, mode=FORCE), make_rollout(0.0, mode=NO), make_rollout(1.0)]
    result = shape_group(group, config)
    assert [r.advantage_group for r in result.rewards] == labels
    assert [r.trainable for r in result.rewards] == trainable
    assert [r.mode for r in result.rewards] == [FORCE, NO, ADAPT]


@pytest.mark.parametrize(
    ("need", "used", "correct", "value"),
    [
        (True, True, True, 1.0),
        (True, True, False, 0.2),
        (True, False, True, -0.2),
        (True, False, False, -0.2),
        (False, True, True, -0.2),
        (False, True, False, -0.2),
        (False, False, True, 1.0),
        (False, False, False, 0.2),
    ],
)
def test_alignment_table(need: bool, used: bool, correct: bool, value: float) -> None:
    assert alignment_value(LookLessConfig().alignment, need, used, correct) == value
