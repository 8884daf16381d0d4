"""HDPO (Metis) and the tool-benefit reward (AdaTooler-V) on hand-computed groups.

HDPO: Accio-Lab/Metis ``verl_tool/trainer/ppo/hdpo_algos.py`` (GRPO on accuracy; conditional GRPO on ``1 / (T + 1)``
among correct rollouts, 0 with fewer than two) and ``workers/hdpo_actor.py`` (w_acc 1.0, w_tool 0.15). verl's GRPO
uses the unbiased std and eps 1e-6. AdaTooler-V: ``verl_tool/workers/reward_manager/adatooler_v.py``
(``alpha * Delta S * exp(-gamma ((n_tool - n_max) / n_max)^2)``, alpha 0.6, gamma 2, n_max 6).
"""

import math

import pytest

from verl_pixel.record import RolloutMode
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.shaped_reward import GroupContext

FORCE, NO = RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL
HDPO = ShapingConfig(method="hdpo")
EPS = 1e-6


def test_hdpo_group_by_hand(make_rollout) -> None:
    # correct with 0, 1 and 3 calls, wrong with 1 call
    group = [make_rollout(1.0), make_rollout(1.0, 1), make_rollout(1.0, 3), make_rollout(0.0, 1)]
    result = shape_group(group, HDPO)
    # tool reward 1/(T+1) for correct answers: 1, 1/2, 1/4; the wrong one 0
    assert [r.tool_efficiency for r in result.rewards] == [1.0, 0.5, 0.25, 0.0]
    # accuracy channel: scores 1,1,1,0: mean 0.75, unbiased std sqrt((3 * 0.25^2 + 0.75^2) / 3) = 0.5
    acc = [0.25 / (0.5 + EPS)] * 3 + [-0.75 / (0.5 + EPS)]
    # tool channel over the three correct ones: 1, 1/2, 1/4, mean 7/12, deviations 5/12, -1/12, -4/12
    std = math.sqrt(((5 / 12) ** 2 + (1 / 12) ** 2 + (4 / 12) ** 2) / 2)
    tool = [(5 / 12) / (std + EPS), (-1 / 12) / (std + EPS), (-4 / 12) / (std + EPS), 0.0]
    assert result.advantages == pytest.approx([a + 0.15 * t for a, t in zip(acc, tool, strict=True)], abs=1e-12)
    assert result.advantages[0] == pytest.approx(0.5 + 0.15 * 1.0911, abs=1e-4)
    # totals are for logging: r_acc + r_tool
    assert [r.total for r in result.rewards] == [2.0, 1.5, 1.25, 0.0]
    assert {r.advantage_group for r in result.rewards} == {"all"}


def test_hdpo_tool_channel_needs_two_correct_rollouts(make_rollout) -> None:
    # one correct rollout: no comparison, A_tool = 0 everywhere (Metis: "advantage = 0 (no valid comparison)")
    group = [make_rollout(1.0, 2), make_rollout(0.0), make_rollout(0.0, 1)]
    result = shape_group(group, HDPO)
    # accuracy: 1,0,0: mean 1/3, std sqrt(((2/3)^2 + 2 (1/3)^2) / 2) = sqrt(1/3)
    std = math.sqrt(1 / 3)
    assert result.advantages == pytest.approx([(2 / 3) / (std + EPS), (-1 / 3) / (std + EPS), (-1 / 3) / (std + EPS)])


def test_hdpo_singleton_and_weights(make_rollout) -> None:
    # a group of one: verl's GRPO uses mean 0, std 1, so A_acc = score / (1 + eps); weights scale the channels
    config = ShapingConfig.from_mapping({"method": "hdpo", "hdpo": {"acc_weight": 2.0, "tool_weight": 0.5}})
    assert shape_group([make_rollout(1.0)], config).advantages == pytest.approx((2.0 * 1.0 / (1 + EPS),))
    # all equal: std 0, every advantage 0 (both channels)
    assert shape_group([make_rollout(1.0, 1)] * 3, config).advantages == (0.0, 0.0, 0.0)


def test_hdpo_counts_attempted_calls_by_default(make_rollout) -> None:
    # a correct rollout with 1 failed call: T = 1 attempted (Metis counts every tool turn); succeeded counting: T = 0
    group = [make_rollout(1.0, 0, failed=1), make_rollout(1.0)]
    assert [r.tool_efficiency for r in shape_group(group, HDPO).rewards] == [0.5, 1.0]
    succeeded = ShapingConfig.from_mapping({"method": "hdpo", "hdpo": {"op_count": "succeeded"}})
    assert [r.tool_efficiency for r in shape_group(group, succeeded).rewards] == [1.0, 1.0]


ADATOOLER = ShapingConfig(method="adatooler")


def bonus(delta: float, n_tool: int) -> float:
    return 0.6 * delta * math.exp(-2.0 * ((n_tool - 6) / 6) ** 2)


def test_tool_benefit_from_the_row(make_rollout) -> None:
    group = [make_rollout(1.0), make_rollout(0.0, 3), make_rollout(1.0, 6), make_rollout(1.0, 12)]
    result = shape_group(group, ADATOOLER, GroupContext(tool_benefit=0.5))
    # n_tool 0: 0.3 e^-2 = 0.0406; 3: 0.3 e^-0.5 = 0.1820; 6: 0.3; 12: 0.3 e^-2
    assert [r.tool_benefit for r in result.rewards] == pytest.approx([0.0406006, 0.1819592, 0.3, 0.0406006])
    totals = [1 + bonus(0.5, 0), bonus(0.5, 3), 1.3, 1 + bonus(0.5, 12)]
    assert [r.total for r in result.rewards] == pytest.approx(totals)
    # a negative Delta S penalises calls (most at n_max)
    negative = shape_group(group, ADATOOLER, GroupContext(tool_benefit=-1.0))
    assert negative.rewards[2].tool_benefit == pytest.approx(-0.6)


def test_tool_benefit_from_the_probes(make_rollout) -> None:
    probes = ShapingConfig.from_mapping({"method": "adatooler", "adatooler": {"delta_source": "probes"}})
    group = [
        make_rollout(1.0, 1, mode=FORCE),
        make_rollout(1.0, 1, mode=FORCE),
        make_rollout(0.0, mode=NO),
        make_rollout(1.0, mode=NO),
        make_rollout(1.0, 2),
    ]
    # acc_tool 1.0 - acc_no 0.5 = Delta S 0.5; the adaptive rollout made 2 calls: 0.3 exp(-2 (4/6)^2)
    result = shape_group(group, probes)
    assert result.rewards[4].tool_benefit == pytest.approx(0.3 * math.exp(-2 * (4 / 6) ** 2))
    # the necessity memory's gap wins over this group's probes
    assert shape_group(group, probes, GroupContext(memory_gap=0.1)).rewards[4].tool_benefit == pytest.approx(
        bonus(0.1, 2)
    )
    # no probes and no memory: no tool term
    assert shape_group(group[4:], probes).rewards[0].tool_benefit == 0.0
