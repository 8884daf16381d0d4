"""DeepEyes: 0.8*r_acc + 0.2*r_fmt + 1.2*1[used and correct]; plain: r_acc + w*r_fmt."""

import pytest

from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.group import shape_group

DEEPEYES = ShapingConfig(method="deepeyes")


def test_deepeyes_gated_bonus(make_rollout) -> None:
    # used+correct: 0.8 + 1.2 = 2.0 | used+wrong: 0 | no tool+correct: 0.8 | failed call only, correct, format
    # error: 0.8*1 + 0.2*-1 (attempts do not count as use) | ANLS 0.6 with a tool: 0.8*0.6 + 1.2
    group = [
        make_rollout(1.0, 1),
        make_rollout(0.0, 2),
        make_rollout(1.0),
        make_rollout(1.0, 0, failed=1, fmt=-1.0),
        make_rollout(0.6, 1),
    ]
    result = shape_group(group, DEEPEYES)
    assert [r.total for r in result.rewards] == [
        0.8 * 1.0 + 0.2 * 0.0 + 1.2,
        0.8 * 0.0 + 0.2 * 0.0,
        0.8 * 1.0 + 0.2 * 0.0,
        0.8 * 1.0 + 0.2 * -1.0,
        0.8 * 0.6 + 0.2 * 0.0 + 1.2,
    ]
    assert [r.total for r in result.rewards] == pytest.approx([2.0, 0.0, 0.8, 0.6, 1.68])
    assert [r.tool_bonus for r in result.rewards] == [1.2, 0.0, 0.0, 0.0, 1.2]
    assert result.info.rapr == 3 / 5 and result.info.need is None


def test_deepeyes_all_wrong_and_all_correct(make_rollout) -> None:
    assert [r.total for r in shape_group([make_rollout(0.0, 1)] * 4, DEEPEYES).rewards] == [0.0] * 4
    assert [r.total for r in shape_group([make_rollout(1.0)] * 4, DEEPEYES).rewards] == [0.8] * 4


def test_plain_accuracy_and_format(make_rollout) -> None:
    plain = ShapingConfig.from_mapping({"method": "none", "format": {"weight": 0.25}})
    result = shape_group([make_rollout(1.0, 3), make_rollout(1.0, fmt=-1.0)], plain)
    assert [r.total for r in result.rewards] == [1.0, 0.75]
    assert [(r.curiosity_bonus, r.redundancy_penalty, r.tool_bonus) for r in result.rewards] == [(0.0, 0.0, 0.0)] * 2


def test_probe_statistics_reported_for_every_method(make_rollout) -> None:
    # need(x) is a property of the group: logged under any method when the layout has probes
    from verl_pixel.record import RolloutMode

    group = [make_rollout(1.0, 1, mode=RolloutMode.FORCE_TOOL), make_rollout(0.0, mode=RolloutMode.NO_TOOL)]
    for method in ("none", "curiosity", "deepeyes", "look_less"):
        info = shape_group(group, ShapingConfig(method=method)).info
        assert (info.has_probes, info.need, info.acc_tool, info.acc_no) == (True, True, 1.0, 0.0)
