"""Pixel Reasoner curiosity: r' = r_acc + alpha*max(H - RaPR, 0)*1[used] + beta*min(N - n_vo, 0).

Expected totals are written in the implementation's addition order (acc_term + ... ) so floats compare with ==.
"""

import pytest

from verl_pixel.reward.config import CuriosityConfig, RedundancyConfig, ShapingConfig
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.shaped_reward import GroupInfo

PAPER = ShapingConfig(method="curiosity")
CODE = ShapingConfig(method="curiosity", curiosity=CuriosityConfig(variant="released_code"))
# Binary-exact constants: H = 0.5, alpha = 0.5, beta = 0.25, N = 1.
EXACT = ShapingConfig(
    method="curiosity", curiosity=CuriosityConfig(alpha=0.5, target_rapr=0.5, redundancy=RedundancyConfig(0.25, 1))
)


def totals(result) -> list[float]:
    return [reward.total for reward in result.rewards]


def test_paper_defaults_two_of_eight_used(make_rollout) -> None:
    # r0: 1 op, correct; r1: 3 ops, wrong; r2..r7: no op, acc 1 1 0 0 0 0.
    # RaPR = 2/8 = 0.25 < H = 0.3 -> bonus = 0.5 * (0.3 - 0.25) ~= 0.025 for r0 and r1 (right or wrong);
    # r1 also pays 0.05 * min(1 - 3, 0) = -0.1.
    group = [make_rollout(1.0, 1), make_rollout(0.0, 3)] + [make_rollout(a) for a in (1.0, 1.0, 0.0, 0.0, 0.0, 0.0)]
    result = shape_group(group, PAPER)
    bonus = 0.5 * (0.3 - 0.25)
    assert totals(result) == [1.0 + bonus, 0.0 + bonus + 0.05 * -2, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert totals(result) == pytest.approx([1.025, -0.075, 1, 1, 0, 0, 0, 0])
    assert [r.curiosity_bonus for r in result.rewards] == [bonus, bonus] + [0.0] * 6
    assert [r.redundancy_penalty for r in result.rewards] == [0.0, 0.05 * -2] + [0.0] * 6
    assert result.info == GroupInfo(size=8, rapr=0.25, has_probes=False, need=None, acc_tool=None, acc_no=None)
    assert {r.advantage_group for r in result.rewards} == {"all"} and all(r.trainable for r in result.rewards)


def test_paper_maximum_bonus(make_rollout) -> None:
    # one of eight used: 0.5 * (0.3 - 1/8) ~= 0.0875, the paper's worked maximum
    group = [make_rollout(0.0, 1)] + [make_rollout(0.0)] * 7
    assert shape_group(group, PAPER).rewards[0].curiosity_bonus == pytest.approx(0.0875)


def test_exact_constants(make_rollout) -> None:
    # H = 0.5, alpha = 0.5, beta = 0.25. Group: r0 1 op correct, r1 2 ops wrong, r2 no op correct, r3 no op wrong.
    # RaPR = 2/4 = 0.5 = H: a tie gives no bonus; r1 pays 0.25 * (1 - 2) = -0.25.
    tie = [make_rollout(1.0, 1), make_rollout(0.0, 2), make_rollout(1.0), make_rollout(0.0)]
    assert totals(shape_group(tie, EXACT)) == [1.0, -0.25, 1.0, 0.0]
    # Only r0 uses an op (2 of them): RaPR = 0.25 -> bonus 0.5 * 0.25 = 0.125; penalty -0.25 -> 0.875.
    one = [make_rollout(1.0, 2), make_rollout(1.0), make_rollout(0.0), make_rollout(0.0)]
    assert totals(shape_group(one, EXACT)) == [0.875, 1.0, 0.0, 0.0]


def test_rapr_above_h_gives_no_bonus(make_rollout) -> None:
    # 4 of 8 used: RaPR 0.5 > 0.3 -> no bonus; the 2-op rollout still pays -0.05.
    group = [make_rollout(1.0, 1), make_rollout(1.0, 2), make_rollout(0.0, 1), make_rollout(0.0, 1)]
    group += [make_rollout(1.0)] * 4
    result = shape_group(group, PAPER)
    assert [r.curiosity_bonus for r in result.rewards] == [0.0] * 8
    assert totals(result) == [1.0, 1.0 + 0.05 * -1, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]


def test_all_correct_all_used_and_all_wrong_no_tool(make_rollout) -> None:
    # RaPR = 1: no bonus, one op each: no penalty -> plain accuracy
    assert totals(shape_group([make_rollout(1.0, 1)] * 8, PAPER)) == [1.0] * 8
    # nobody used a tool: RaPR = 0, no one to reward -> zeros
    result = shape_group([make_rollout(0.0)] * 8, PAPER)
    assert totals(result) == [0.0] * 8 and result.info.rapr == 0.0


def test_paper_counts_successful_ops_code_counts_attempts(make_rollout) -> None:
    # r0 attempted one call that failed (acc 1); nobody else tried.
    group = [make_rollout(1.0, 0, failed=1)] + [make_rollout(0.0)] * 7
    paper = shape_group(group, PAPER)
    assert paper.info.rapr == 0.0 and paper.rewards[0].total == 1.0 and not paper.rewards[0].used_tool
    # Released code: RaPR = 1/8 over attempts; bonus = max(0.3 - rapr, 0) / 2.0 / rapr * 0.25 ~= 0.175,
    # twice the paper's maximum.
    code = shape_group(group, CODE)
    rapr = 1 / 8
    released = max(0.3 - rapr, 0.0) / 2.0
    released = released / rapr * 0.25
    assert code.info.rapr == rapr and code.rewards[0].used_tool
    assert code.rewards[0].curiosity_bonus == released == pytest.approx(0.175)
    assert code.rewards[0].total == 1.0 + released


def test_code_variant_penalty_counts_attempts(make_rollout) -> None:
    # 1 success + 2 failures = 3 attempted calls -> -0.05 * (3 - 1) under the code variant, -0 under the paper
    group = [make_rollout(1.0, 1, failed=2)] + [make_rollout(0.0)] * 7
    assert shape_group(group, CODE).rewards[0].redundancy_penalty == 0.05 * -2
    assert shape_group(group, PAPER).rewards[0].redundancy_penalty == 0.0


def test_format_weight_enters_total(make_rollout) -> None:
    config = ShapingConfig.from_mapping({"method": "curiosity", "format": {"weight": 0.5}})
    reward = shape_group([make_rollout(1.0, fmt=-1.0)], config).rewards[0]
    assert (reward.fmt_term, reward.total) == (-0.5, 0.5)


def test_empty_group_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one rollout"):
        shape_group([], PAPER)
