"""The curiosity reward as Pixel Reasoner's released code computes it, and its near-uniform group filter.

Reference: TIGER-AI-Lab/Pixel-Reasoner (commit a3a6c3a),
``curiosity_driven_rl/openrlhf/trainer/ppo_utils/experience_maker.py``:

* lines 2431-2451, per rollout of a group (``rapr`` = share of the group's rollouts that called a tool)::

      this_r = float(mres)
      if this_r > 0.5 and final_error_flags[iidx]: this_r = 0.0
      if isvideo and ncall > 0.1: curiosity = max(0.3 - rapr, 0.0) / 1.5; curiosity = curiosity / rapr * 0.25
      elif ncall > 0.1:          curiosity = max(0.3 - rapr, 0.0) / 2.0; curiosity = curiosity / rapr * 0.25
      penalty = -0.05 * (ncall - 1); this_r += curiosity + penalty

* lines 789-802, ``do_verify``: ``res = -1.0`` when math-verify parses nothing;
* line 2462, a group is uniform when ``np.mean([abs(x - mean) for x in rewards]) < 0.01``.

The expected values below are those expressions, written out here, not computed by the code under test.
"""

from __future__ import annotations

import dataclasses

import pytest

from verl_pixel.record import TrajectoryRecord
from verl_pixel.reward.config import CuriosityConfig, ShapingConfig
from verl_pixel.reward.scoring.trajectory_score import score_trajectory
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.group_step import near_uniform, shape_stored_groups
from verl_pixel.reward.shaping.shaped_reward import ScoredRollout
from verl_pixel.rollout.trajectory import TurnOutcome, build_record, has_video_input

CODE = ShapingConfig(method="curiosity", curiosity=CuriosityConfig(variant="released_code"))
PAPER = ShapingConfig(method="curiosity")


def rollout(acc: float, calls: int = 0, *, video: bool = False, last_failed: bool = False, marked: bool = True):
    record = TrajectoryRecord(ops_attempted=calls, ops_succeeded=calls, last_call_failed=last_failed, video_input=video)
    return ScoredRollout(record, acc, 0.0, marked)


def test_video_rollouts_use_the_codes_division_by_1_5():
    # One of eight rollouts called a tool: rapr = 1/8.
    rapr = 1 / 8
    image = [rollout(1.0, 1)] + [rollout(0.0)] * 7
    video = [rollout(1.0, 1, video=True)] + [rollout(0.0, video=True)] * 7
    image_bonus = max(0.3 - rapr, 0.0) / 2.0 / rapr * 0.25  # = 0.175
    video_bonus = max(0.3 - rapr, 0.0) / 1.5 / rapr * 0.25  # = 0.2333...
    assert shape_group(image, CODE).rewards[0].curiosity_bonus == image_bonus == pytest.approx(0.175)
    assert shape_group(video, CODE).rewards[0].curiosity_bonus == pytest.approx(video_bonus, rel=1e-15)
    assert video_bonus == pytest.approx(0.7 / 3)
    # The paper variant has one alpha for every rollout.
    assert shape_group(video, PAPER).rewards[0].curiosity_bonus == shape_group(image, PAPER).rewards[0].curiosity_bonus


def test_correct_answer_right_after_an_unfixed_error_scores_zero():
    # r0: correct, its last call failed; r1: correct after a failure it fixed; r2: wrong after a failure; 5 no-tool.
    group = [rollout(1.0, 2, last_failed=True), rollout(1.0, 2), rollout(0.0, 1, last_failed=True)]
    group += [rollout(1.0)] * 5
    code = shape_group(group, CODE)
    rapr = 3 / 8
    # rapr > 0.3: no curiosity; two calls pay -0.05.
    assert [r.acc_term for r in code.rewards] == [0.0, 1.0, 0.0] + [1.0] * 5
    assert [r.total for r in code.rewards] == [0.0 - 0.05, 1.0 - 0.05, 0.0] + [1.0] * 5
    assert max(0.3 - rapr, 0.0) == 0.0
    # The rule is the released code's only: the paper variant keeps r_acc, and the switch turns it off.
    assert shape_group(group, PAPER).rewards[0].acc_term == 1.0
    keep = dataclasses.replace(CODE, curiosity=CuriosityConfig(variant="released_code", zero_correct_after_error=False))
    assert shape_group(group, keep).rewards[0].acc_term == 1.0


def test_unmarked_wrong_answers_score_minus_one_when_asked():
    group = [rollout(0.0, marked=False), rollout(0.0), rollout(1.0, marked=False), rollout(1.0)]
    default = shape_group(group, CODE)
    assert [r.acc_term for r in default.rewards] == [0.0, 0.0, 1.0, 1.0]  # default: unchanged
    minus_one = dataclasses.replace(CODE, curiosity=CuriosityConfig(variant="released_code", unparsable_score=-1))
    assert [r.acc_term for r in shape_group(group, minus_one).rewards] == [-1.0, 0.0, 1.0, 1.0]
    assert [r.total for r in shape_group(group, minus_one).rewards] == [-1.0, 0.0, 1.0, 1.0]
    paper = ShapingConfig(method="curiosity", curiosity=CuriosityConfig(unparsable_score=-1.0))
    assert [r.acc_term for r in shape_group(group, paper).rewards] == [0.0, 0.0, 1.0, 1.0]


def test_the_scorer_reports_whether_the_answer_was_marked():
    truth = {"answer": "blue", "answer_type": "short_text"}
    marked = score_trajectory(TrajectoryRecord(answer_text="It is \\boxed{red}."), truth).to_extra_info()
    bare = score_trajectory(TrajectoryRecord(answer_text="red"), truth).to_extra_info()
    empty_box = score_trajectory(TrajectoryRecord(answer_text="\\boxed{}"), truth).to_extra_info()
    assert (marked["pixel/answer_marked"], bare["pixel/answer_marked"], empty_box["pixel/answer_marked"]) == (
        True,
        False,
        False,
    )
    stored = {**TrajectoryRecord().to_extra_fields(), **bare}
    assert ScoredRollout.from_extra_fields(stored).answer_marked is False
    assert ScoredRollout.from_extra_fields({"pixel/acc": 1.0}).answer_marked is True  # older records: marked


def test_config_keys_are_validated():
    config = ShapingConfig.from_mapping(
        {"method": "curiosity", "curiosity": {"variant": "released_code", "unparsable_score": -1, "video_alpha": 0.5}}
    )
    assert (config.curiosity.unparsable_score, config.curiosity.video_alpha) == (-1.0, 0.5)
    with pytest.raises(ValueError, match=r"curiosity\.unparsable_score: -2\.0 is outside"):
        ShapingConfig.from_mapping({"curiosity": {"unparsable_score": -2}})
    with pytest.raises(ValueError, match="zero_correct_after_error: expected true or false"):
        ShapingConfig.from_mapping({"curiosity": {"zero_correct_after_error": "yes"}})
    with pytest.raises(ValueError, match="uniform_threshold"):
        ShapingConfig.from_mapping({"uniform_threshold": -0.1})


def test_record_last_call_failed_and_video_input():
    def record(*oks: bool, video: bool = False) -> TrajectoryRecord:
        events = [{"ok": ok, "reason": "" if ok else "bad_arguments", "images_added": int(ok)} for ok in oks]
        return build_record(TrajectoryRecord().mode, TurnOutcome(events=events), 0, video)

    assert [record().last_call_failed, record(True).last_call_failed, record(False).last_call_failed] == [
        False,
        False,
        True,
    ]
    assert (record(False, True).last_call_failed, record(True, False).last_call_failed) == (False, True)
    assert record(video=True).video_input is True and record().video_input is False
    back = TrajectoryRecord.from_mapping(record(False, video=True).to_extra_fields())
    assert (back.last_call_failed, back.video_input) == (True, True)
    frames = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "q"}]}]
    video = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "q"}]}]
    assert [has_video_input(frames), has_video_input(frames, 16), has_video_input(video)] == [False, True, True]


def _stored(total_acc: float, fmt: float) -> dict:
    record = TrajectoryRecord()
    info = {"pixel/acc": total_acc, "pixel/fmt": fmt}
    return {**record.to_extra_fields(), "reward_extra_info": info}


def test_near_uniform_groups_share_one_filter_value():
    # Totals with format weight 0.01: [1, 1, 1, 0.99]; mean 0.9975, mean |r - mean| = 0.00375 < 0.01: uniform.
    assert near_uniform([1.0, 1.0, 1.0, 0.99], 0.01) and not near_uniform([1.0, 1.0, 1.0, 0.99], 0.003)
    assert not near_uniform([1.0, 1.0], 0.0)  # threshold 0: only verl's own exact-equality test applies
    config = ShapingConfig.from_mapping({"method": "none", "format": {"weight": 0.01}, "uniform_threshold": 0.01})
    keys = ["u_0_0", "u_1_0", "u_2_0", "u_3_0", "v_0_0", "v_1_0"]
    fields = [_stored(1.0, 0.0)] * 3 + [_stored(1.0, -1.0)] + [_stored(1.0, 0.0), _stored(0.0, 0.0)]
    result = shape_stored_groups(keys, fields, config)
    values = [u.extra_fields["reward_extra_info"]["pixel/group/filter_reward"] for u in result.updates]
    mean = (1.0 + 1.0 + 1.0 + (1.0 + 0.01 * -1.0)) / 4
    assert values[:4] == [mean] * 4  # one value: verl's filter (std == 0) drops the group
    assert values[4:] == [1.0, 0.0]  # v is not uniform: each rollout keeps its total
    assert [u.score for u in result.updates][:4] == [1.0, 1.0, 1.0, 0.99]  # the trained rewards are untouched
    strict = dataclasses.replace(config, uniform_threshold=0.0)
    values = [
        u.extra_fields["reward_extra_info"]["pixel/group/filter_reward"]
        for u in shape_stored_groups(keys, fields, strict).updates
    ]
    assert values == [1.0, 1.0, 1.0, 0.99, 1.0, 0.0]
