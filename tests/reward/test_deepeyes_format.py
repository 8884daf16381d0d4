"""DeepEyes' format rule (Visual-Agent/DeepEyes 6c5e796, ``verl/utils/reward_score/vl_agent.py`` lines 190-266).

``is_format_error`` when ``<think>`` tags are unbalanced, when ``<answer>`` tags after the last ``</think>`` are
unbalanced, or when the answer is 1000+ characters (which also zeroes ``acc_reward``); the reward is
``0.8 * acc + 0.2 * format + 1.2 * tool`` with ``format = -1`` on an error.
"""

from __future__ import annotations

import pytest

from verl_pixel.record import TrajectoryRecord
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.scoring.format_rules import deepeyes_format
from verl_pixel.reward.scoring.trajectory_score import score_trajectory
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.shaped_reward import ScoredRollout

DEEPEYES = ShapingConfig.from_mapping({"method": "deepeyes", "format": {"rule": "deepeyes"}})


@pytest.mark.parametrize(
    ("text", "error", "too_long"),
    [
        ("<think>look</think><answer>B</answer>", False, False),
        ("<think>look<answer>B</answer>", True, False),  # <think> without </think>
        ("<think>look</think><answer>B", True, False),  # <answer> without </answer> after </think>
        ("<answer>x</answer><think>a</think>B", False, False),  # answer tags before </think> are not counted
        ("no tags at all, answer B", False, False),
        ("<answer>" + "y" * 999 + "</answer>", False, False),
        ("<answer>" + "y" * 1000 + "</answer>", True, True),
    ],
)
def test_deepeyes_checks(text, error, too_long):
    assert (deepeyes_format(text).error, deepeyes_format(text).answer_too_long) == (error, too_long)


def test_scores_under_the_deepeyes_rule():
    truth = {"answer": "y" * 1000, "answer_type": "short_text"}
    long = TrajectoryRecord(answer_text="<answer>" + "y" * 1000 + "</answer>", ops_failed=1)
    assert (score_trajectory(long, truth).acc, score_trajectory(long, truth, DEEPEYES.format).acc) == (1.0, 0.0)
    fine = TrajectoryRecord(answer_text="<think>ok</think><answer>B</answer>", ops_failed=1)
    truth = {"answer": "B", "answer_type": "short_text"}
    # the pixel rule counts the failed operation as a format error, DeepEyes' does not
    assert (score_trajectory(fine, truth).fmt, score_trajectory(fine, truth, DEEPEYES.format).fmt) == (-1.0, 0.0)
    broken = TrajectoryRecord(answer_text="<think>ok<answer>B</answer>", ops_succeeded=1, ops_attempted=1)
    score = score_trajectory(broken, truth, DEEPEYES.format)
    assert (score.acc, score.fmt) == (1.0, -1.0)
    reward = shape_group([ScoredRollout(broken, score.acc, score.fmt)], DEEPEYES).rewards[0]
    assert reward.total == 0.8 * 1.0 + 0.2 * -1.0 + 1.2


def test_rule_is_validated():
    with pytest.raises(ValueError, match=r"format\.rule: 'strict' is not one of pixel, deepeyes"):
        ShapingConfig.from_mapping({"format": {"rule": "strict"}})
