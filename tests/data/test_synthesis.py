"""Trajectory synthesis: exact type shares, valid rows, wrong boxes away from the cue, oversized boxes around it."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from verl_pixel.data.boxes import contains, expand, intersection_area, iou
from verl_pixel.data.sft_schema import is_trained, validate_row
from verl_pixel.data.synthesis_config import IMAGE_TYPES, VIDEO_TYPES, SynthesisConfig, TrajectoryType
from verl_pixel.data.synthesis_plan import StepRole, largest_remainder_counts, plan_trajectories
from verl_pixel.data.synthesize import format_share_table, synthesize


def _calls(row):
    """(bbox_2d or target_frames, trained) of each assistant call, in order."""
    out = []
    for message in row["messages"]:
        for call in message.get("tool_calls") or []:
            arguments = json.loads(call["function"]["arguments"])
            out.append((arguments.get("bbox_2d", arguments.get("target_frames")), is_trained(message)))
    return out


@pytest.fixture(scope="module")
def thousand(make_seeds, fast_synthesis_config):
    seeds = make_seeds(800, 200)
    config = fast_synthesis_config(seed=7)
    return seeds, config, synthesize(seeds, config)


def test_shares_are_the_largest_remainder_counts_for_1000_seeds(thousand):
    _, config, result = thousand
    counts = Counter(plan.trajectory_type for plan in result.plans)
    # Text-only: 1000 x 4/15 = 266.67 -> 267 (the needs_zoom=False seeds first, then others in shuffled order).
    assert config.text_only == pytest.approx(4 / 15) and counts[TrajectoryType.TEXT_ONLY] == 267
    image_pool, video_pool = (sum(counts[t] for t in types) for types in (IMAGE_TYPES, VIDEO_TYPES))
    assert (image_pool, video_pool) == (578, 155)  # 800 image and 200 video seeds minus the text-only ones
    # Image pool 578 x (0.3, 0.2, 0.2, 0.3) = 173.4, 115.6, 115.6, 173.4: floors sum to 576; the 2 left over go to
    # the largest remainders (the two .6): single_pass, recrop_once, recrop_twice, further_zoom =
    assert [counts[t] for t in IMAGE_TYPES] == [173, 116, 116, 173]
    # Video pool 155 x (0.9, 0.1) = 139.5, 15.5: floors sum to 154; the tie of remainders goes to the first type.
    assert [counts[t] for t in VIDEO_TYPES] == [140, 15]
    realized = {line.trajectory_type: line.realized for line in result.shares}
    assert realized[TrajectoryType.RECROP_TWICE] == 116 / 578 and realized[TrajectoryType.VIDEO_RESELECT] == 15 / 155
    table = format_share_table(result.shares)
    assert "recrop_twice" in table and "configured" in table and len(table.splitlines()) == 9


def test_every_trajectory_passes_validation(thousand):
    seeds, _, result = thousand
    assert len(result.rows) == 1000
    for plan, row in zip(result.plans, result.rows, strict=True):
        assert validate_row(row, check_files=False) == [], plan
        answer = seeds[plan.seed_index].answer
        assert row["messages"][-1]["content"].endswith(f"The answer is \\boxed{{{answer}}}.")
        assert row["messages"][-1]["loss_mask"] == 1 and row["trajectory_type"] == plan.trajectory_type.value


def test_wrong_boxes_have_zero_iou_with_cue_and_are_masked(thousand):
    _, config, result = thousand
    checked = 0
    for plan, row in zip(result.plans, result.rows, strict=True):
        if plan.trajectory_type not in (TrajectoryType.RECROP_ONCE, TrajectoryType.RECROP_TWICE):
            continue
        calls = _calls(row)
        expected_wrong = 1 if plan.trajectory_type is TrajectoryType.RECROP_ONCE else 2
        assert [trained for _, trained in calls] == [False] * expected_wrong + [True]
        for box, _ in calls[:expected_wrong]:
            assert iou(tuple(box), plan.cue) == 0.0  # the call as written
            margin = config.ops.padding  # and the padded crop the tool cuts misses the cue too
            assert intersection_area(tuple(box), expand(plan.cue, margin, margin)) == 0.0
        assert contains(tuple(calls[-1][0]), plan.cue)
        checked += 1
    assert checked > 200


def test_oversized_boxes_contain_cue_and_correct_box_zooms_into_the_crop(thousand):
    _, config, result = thousand
    checked = 0
    for plan, row in zip(result.plans, result.rows, strict=True):
        if plan.trajectory_type is not TrajectoryType.FURTHER_ZOOM:
            continue
        oversized, _ = plan.crops
        assert oversized.role is StepRole.OVERSIZED and contains(oversized.box, plan.cue)
        width, height = oversized.box[2] - oversized.box[0], oversized.box[3] - oversized.box[1]
        cue_area = (plan.cue[2] - plan.cue[0]) * (plan.cue[3] - plan.cue[1])
        assert width * height >= 1.5 * cue_area and width * height <= config.max_oversized_area
        calls = _calls(row)
        assert tuple(calls[0][0]) == oversized.box and calls[0][1] is False  # masked by default
        assert json.loads(row["messages"][3]["tool_calls"][0]["function"]["arguments"])["target_image"] == 2
        assert calls[1][1] is True
        checked += 1
    assert checked > 150


def test_video_reselect_frames_miss_the_window(thousand):
    seeds, _, result = thousand
    checked = 0
    for plan, row in zip(result.plans, result.rows, strict=True):
        if plan.trajectory_type is TrajectoryType.VIDEO_RESELECT:
            wrong, correct = _calls(row)
            first, last = seeds[plan.seed_index].frames
            assert not set(wrong[0]) & set(range(first, last + 1)) and wrong[1] is False
            assert set(correct[0]) <= set(range(first, last + 1)) and correct[1] is True
            checked += 1
    assert checked == 15  # every reselect plan of the 1000 (the share test derives the 15)


def test_same_seed_same_rows_different_seed_different_plans(make_seeds, fast_synthesis_config):
    seeds = make_seeds(30, 5)
    first = synthesize(seeds, fast_synthesis_config(seed=3))
    again = synthesize(seeds, fast_synthesis_config(seed=3))
    other = synthesize(seeds, fast_synthesis_config(seed=4))
    assert first.rows == again.rows
    assert [p.trajectory_type for p in first.plans] != [p.trajectory_type for p in other.plans]


def test_largest_remainder_counts_are_exact():
    assert largest_remainder_counts(10, [0.3, 0.2, 0.2, 0.3]) == [3, 2, 2, 3]
    assert sum(largest_remainder_counts(7, [0.3, 0.2, 0.2, 0.3])) == 7
    assert largest_remainder_counts(0, [1.0]) == [0]


def test_infeasible_error_types_fall_back_to_single_pass(make_seeds, fast_synthesis_config, caplog):
    seeds = [s.__class__(**{**s.__dict__, "bbox": (0, 0, 300, 230)}) for s in make_seeds(10, 0)]  # cue fills image
    config = fast_synthesis_config(single_pass=0.0, recrop_once=1.0, recrop_twice=0.0, further_zoom=0.0, text_only=0.0)
    plans = plan_trajectories(seeds, [(320, 240)] * 10, config)
    assert {p.trajectory_type for p in plans} == {TrajectoryType.SINGLE_PASS}
    assert "feasible" in caplog.text


@pytest.mark.parametrize(
    "overrides",
    [
        {"single_pass": 0.5},
        {"video_reselect": 0.5},
        {"text_only": 1.5},
        {"oversize_scale": (0.5, 2.0)},
        {"further_zoom_target": "elsewhere"},
        {"narration": "chatty"},
    ],
)
def test_config_rejects_inconsistent_values(overrides):
    with pytest.raises(ValueError):
        SynthesisConfig(**overrides)


def test_terse_narration_leaves_the_decision_first_and_only_the_spoken_answer(make_seeds, fast_synthesis_config):
    """``narration: terse``: a zooming turn is the call alone, every answer turn '<Answer>. The answer is ...'."""
    seeds = make_seeds(6, 2)
    config = fast_synthesis_config(seed=5, narration="terse", recrop_once=0.5, recrop_twice=0.0, further_zoom=0.0,
                                   single_pass=0.5, text_only=0.5)  # fmt: skip
    rows = synthesize(seeds, config).rows
    answers = {seed.seed_id: seed.answer for seed in seeds}
    seen_calls = seen_wrong = 0
    for row in rows:
        assistant = [m for m in row["messages"] if m["role"] == "assistant"]
        answer = answers[row["seed_id"]]
        # The numbers are spoken as themselves: "<n>. The answer is \\boxed{<n>}."
        assert assistant[-1]["content"] == f"{answer}. The answer is \\boxed{{{answer}}}."
        for message in assistant[:-1]:
            assert message["tool_calls"]
            seen_calls += 1
            if message["content"]:
                assert message["content"] == "Not here."  # after a wrong crop or wrong frames
                seen_wrong += 1
    assert seen_calls > 0 and seen_wrong > 0
    full = synthesize(seeds, fast_synthesis_config(seed=5)).rows  # the default narration still analyses
    assert any(m["content"].startswith("Now I will") or "zoom" in m["content"] for r in full for m in r["messages"]
               if m["role"] == "assistant" and m.get("tool_calls"))  # fmt: skip
