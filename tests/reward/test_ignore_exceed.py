"""ignore_exceed (Mini-o3's actor.ignore_exceed): rollouts stopped by a limit leave group and loss, any method."""

import dataclasses
import math

import pytest

from verl_pixel.record import RolloutMode, StopReason
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.group_step import shape_stored_groups

FORCE, NO = RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL


def cut(rollout, reason: StopReason = StopReason.MAX_TURNS):
    return dataclasses.replace(rollout, record=dataclasses.replace(rollout.record, stop_reason=reason))


def config(method: str, ignore: bool = True, **more) -> ShapingConfig:
    return ShapingConfig.from_mapping({"method": method, "ignore_exceed": ignore, **more})


def test_exceeded_probe_leaves_the_need_estimate(make_rollout) -> None:
    # force_tool: right, and one cut at the operation limit (acc 0); no_tool: right, wrong
    group = [
        make_rollout(1.0, 1, mode=FORCE),
        cut(make_rollout(0.0, 4, mode=FORCE), StopReason.MAX_OPERATIONS),
        make_rollout(1.0, mode=NO),
        make_rollout(0.0, mode=NO),
        make_rollout(1.0, 1),
    ]
    # scored 0: acc_tool 0.5 = acc_no 0.5, a tie, need 0
    assert shape_group(group, config("look_less", ignore=False)).info.need is False
    # left out: acc_tool 1.0 > 0.5, need 1; the adaptive rollout (tool, right) earns b1: 1 + 0.5 * 1.0
    result = shape_group(group, config("look_less"))
    assert (result.info.need, result.info.acc_tool, result.info.size, result.info.exceeded) == (True, 1.0, 4, 1)
    assert result.rewards[4].total == 1.5
    frozen = result.rewards[1]
    assert (frozen.total, frozen.trainable, frozen.acc_term, frozen.instr_bonus) == (0.0, False, 0.0, 0.0)
    assert [r.trainable for r in result.rewards] == [True, False, True, True, True]


def test_exceeded_rollouts_leave_the_grpo_statistics_of_hdpo(make_rollout) -> None:
    group = [make_rollout(1.0), cut(make_rollout(0.0, 5)), make_rollout(0.0)]
    result = shape_group(group, config("hdpo"))
    # kept: 1, 0 -> mean 0.5, unbiased std sqrt(0.5); tool channel: one correct, 0
    std = math.sqrt(0.5)
    assert result.advantages == pytest.approx((0.5 / (std + 1e-6), 0.0, -0.5 / (std + 1e-6)))


@pytest.mark.parametrize("method", ["none", "curiosity", "deepeyes", "adatooler"])
def test_every_method_freezes_exceeded_rollouts(make_rollout, method) -> None:
    group = [make_rollout(1.0, 1), cut(make_rollout(1.0, 2), StopReason.MAX_IMAGES)]
    result = shape_group(group, config(method))
    assert [r.trainable for r in result.rewards] == [True, False]
    assert result.rewards[1].total == 0.0 and result.info.exceeded == 1
    off = shape_group(group, config(method, ignore=False))
    assert [r.trainable for r in off.rewards] == [True, True] and off.info.exceeded == 0


def test_only_the_configured_stop_reasons_count(make_rollout) -> None:
    group = [make_rollout(1.0), cut(make_rollout(0.0), StopReason.MAX_RESPONSE_LENGTH), cut(make_rollout(0.0))]
    result = shape_group(group, config("none"))  # default: turn, operation and image limits
    assert [r.trainable for r in result.rewards] == [True, True, False]
    lengths = config("none", exceed_stops=["max_response_length"])
    assert [r.trainable for r in shape_group(group, lengths).rewards] == [True, False, True]


def test_a_group_that_all_exceeded_trains_nothing(make_rollout) -> None:
    result = shape_group([cut(make_rollout(0.0, 6)), cut(make_rollout(1.0, 6))], config("hdpo"))
    assert [r.trainable for r in result.rewards] == [False, False]
    assert result.advantages == (0.0, 0.0)
    assert (result.info.size, result.info.exceeded) == (0, 2)


def test_group_step_masks_exceeded_rollouts() -> None:
    from verl_pixel.record import TrajectoryRecord

    def stored(acc: float, stop: StopReason = StopReason.ANSWERED) -> dict:
        record = TrajectoryRecord(stop_reason=stop)
        return {**record.to_extra_fields(), "reward_extra_info": {"pixel/acc": acc, "pixel/fmt": 0.0}}

    result = shape_stored_groups(
        ["u_0_0", "u_1_0", "u_2_0"],
        [stored(1.0), stored(0.0, StopReason.MAX_TURNS), stored(0.0)],
        config("none"),
    )
    assert [u.score for u in result.updates] == [1.0, 0.0, 0.0]
    assert [u.advantage_uid for u in result.updates] == ["u", "u/frozen", "u"]
    assert [u.trainable for u in result.updates] == [True, False, True]
