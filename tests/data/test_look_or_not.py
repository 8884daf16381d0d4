"""The look-or-not task: disjoint splits, exact need counts, patterns invisible in the view and legible in the crop."""

from __future__ import annotations

import filecmp

import numpy as np
import pytest

from verl_pixel.data.look_or_not import (
    COLORS,
    NEED_SOURCE,
    NO_NEED_SOURCE,
    PATTERNS,
    QUADRANTS,
    SPLIT_STRIDE,
    LookOrNotSpec,
    anchor_boxes,
    image_seed,
    load_look_or_not,
    load_target_boxes,
    pattern_tile,
    quadrant_box,
)
from verl_pixel.data.look_or_not_check import (
    check_labels,
    gradient_energy_pattern,
    pattern_view_spread,
    target_pixels,
)
from verl_pixel.data.look_or_not_sets import LookOrNotRun

SPEC = LookOrNotSpec(n_train=24, n_val=4, n_test=16, seed=3)


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lookornot")
    load_look_or_not(folder, SPEC)
    return folder


def test_splits_draw_from_disjoint_seed_ranges():
    seeds = {
        split: {image_seed(SPEC, split, i) for i in range(SPEC.count(split))} for split in ("train", "val", "test")
    }
    assert (
        not (seeds["train"] & seeds["val"])
        and not (seeds["train"] & seeds["test"])
        and not seeds["val"] & seeds["test"]
    )
    # Split k of spec seed s owns [(3s + k) * STRIDE, (3s + k + 1) * STRIDE).
    assert min(seeds["test"]) == (3 * 3 + 2) * SPLIT_STRIDE and max(seeds["train"]) < (3 * 3 + 1) * SPLIT_STRIDE


def test_each_split_has_exactly_half_need_questions_with_their_data_sources(task_dir):
    splits = load_look_or_not(task_dir, SPEC)
    for split, seeds in splits.items():
        need = [s for s in seeds if s.needs_zoom]
        assert len(need) == SPEC.count(split) // 2, split
        assert {s.data_source for s in need} == {NEED_SOURCE}
        assert {s.data_source for s in seeds if not s.needs_zoom} == {NO_NEED_SOURCE}
    # Fixed option order per question type; the answer letter names the drawn attribute.
    for seed in splits["train"]:
        assert seed.options == (PATTERNS if seed.needs_zoom else tuple(COLORS))
        assert seed.answer in "ABCD" and seed.answer_type == "multiple_choice"


def test_same_spec_same_files_and_quadrant_boxes(task_dir, tmp_path):
    again = load_look_or_not(tmp_path, SPEC)
    first = load_look_or_not(task_dir, SPEC)
    for a, b in zip(first["test"], again["test"], strict=True):
        assert a.question == b.question and a.answer == b.answer
        assert filecmp.cmp(a.image, b.image, shallow=False)
    # The cue box is the asked object's anchor box in the named quadrant: the box the synthesized zoom crops.
    for seed in first["test"][:4]:
        quadrant = next(q for q in QUADRANTS if f"the {q} quadrant" in seed.question)
        anchor = anchor_boxes(SPEC, quadrant)["square" if seed.needs_zoom else "circle"]
        assert seed.bbox == tuple(float(v) for v in anchor)


def test_targets_lie_in_their_anchor_box_clear_of_the_inner_edges(task_dir):
    """Every drawn target lies inside its seed's box; the box lies in the named quadrant, 0.14 of the side away
    from the inner edges (224 px across, 168 px down), so a crop of it never shows another quadrant's objects."""
    boxes = load_target_boxes(task_dir)
    splits = load_look_or_not(task_dir, SPEC)
    for seed in splits["train"] + splits["test"]:
        x1, y1, x2, y2 = boxes[seed.seed_id]
        bx1, by1, bx2, by2 = seed.bbox
        assert bx1 <= x1 < x2 <= bx2 and by1 <= y1 < y2 <= by2
        quadrant = next(q for q in QUADRANTS if f"the {q} quadrant" in seed.question)
        qx1, qy1, qx2, qy2 = quadrant_box(quadrant, SPEC.image_size)
        assert qx1 <= bx1 < bx2 <= qx2 and qy1 <= by1 < by2 <= qy2
        assert (bx2 <= 800 - 224) if qx1 == 0 else (bx1 >= 800 + 224)
        assert (by2 <= 600 - 168) if qy1 == 0 else (by1 >= 600 + 168)
    # In each quadrant the square's box and the circle's box do not overlap.
    for quadrant in QUADRANTS:
        square, circle = anchor_boxes(SPEC, quadrant)["square"], anchor_boxes(SPEC, quadrant)["circle"]
        assert square[2] <= circle[0] or circle[2] <= square[0]


def test_pattern_tiles_have_one_mean_and_fade_to_grey_at_the_border():
    for pattern in PATTERNS:
        tile = np.asarray(pattern_tile(pattern, 160, 8)).astype(float)
        assert abs(tile.mean() - 128) <= 0.5, pattern
        assert np.abs(tile[[0, -1], :] - 128).max() <= 4 and np.abs(tile[:, [0, -1]] - 128).max() <= 4
    centre = {p: np.asarray(pattern_tile(p, 160, 8))[76:84, 76:84].astype(int) for p in PATTERNS}
    assert (centre["solid grey"] == 128).all()
    # Stripes: near-constant along their direction (the envelope bends them by <= 2 levels), black / white across.
    horizontal, vertical = centre["horizontal stripes"], centre["vertical stripes"]
    assert np.abs(np.diff(horizontal, axis=1)).max() <= 2 and np.abs(np.diff(horizontal, axis=0)).max() > 200
    assert np.abs(np.diff(vertical, axis=0)).max() <= 2 and np.abs(np.diff(vertical, axis=1)).max() > 200
    checks = centre["checkerboard"]
    assert np.abs(np.diff(checks, axis=0)).max() > 200 and np.abs(np.diff(checks, axis=1)).max() > 200


def test_the_view_holds_no_trace_of_the_pattern_and_the_crop_reads_it(task_dir):
    """Repainting the square with each pattern changes the 40-token view by at most 1 grey level (rounding), while
    the crop of the named quadrant shows it: the gradient rule reads every crop right."""
    boxes = load_target_boxes(task_dir)
    ops = LookOrNotRun().ops()
    need = [s for s in load_look_or_not(task_dir, SPEC)["test"] if s.needs_zoom]
    assert [pattern_view_spread(s, boxes[s.seed_id], 8, ops) for s in need] == [1] * len(need)
    pixels = [target_pixels(s, boxes[s.seed_id], ops) for s in need]
    assert [gradient_energy_pattern(p.crop_centre) for p in pixels] == ["ABCD".index(s.answer) for s in need]


def test_a_64_token_view_would_leak_the_pattern(task_dir):
    """Why the view budget is 40 tokens: at 64 (6.35 px per view pixel across) vertical stripes alias through."""
    boxes = load_target_boxes(task_dir)
    ops = LookOrNotRun(view_tokens=64).ops()
    need = [s for s in load_look_or_not(task_dir, SPEC)["test"] if s.needs_zoom]
    assert min(pattern_view_spread(s, boxes[s.seed_id], 8, ops) for s in need) >= 4


def test_label_check_reports_both_oracles_per_subset(task_dir):
    splits = load_look_or_not(task_dir, SPEC)
    lines = check_labels(splits["train"], splits["test"], load_target_boxes(task_dir), LookOrNotRun().ops())
    assert [(line.subset, line.oracle, line.n) for line in lines] == [
        ("need", "gradient energy", 8), ("need", "fitted classifier", 8), ("no_need", "mean colour", 8)
    ]  # fmt: skip
    by_oracle = {line.oracle: line for line in lines}
    assert by_oracle["gradient energy"].crop_accuracy == 1.0 and by_oracle["fitted classifier"].crop_accuracy == 1.0
    assert by_oracle["mean colour"].view_accuracy == 1.0 == by_oracle["mean colour"].crop_accuracy


def test_spec_rejects_what_cannot_be_drawn():
    with pytest.raises(ValueError, match="pattern_period"):
        LookOrNotSpec(pattern_period=7)
    with pytest.raises(ValueError, match="cannot hold"):
        LookOrNotSpec(square_side=400)
    with pytest.raises(ValueError, match="n_test"):
        LookOrNotSpec(n_test=SPLIT_STRIDE)
    with pytest.raises(ValueError, match="unknown pattern"):
        pattern_tile("dots", 16, 8)
