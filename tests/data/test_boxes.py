"""Box geometry of trajectory synthesis: IoU, containment, rounding direction, disjoint and enclosing sampling."""

from __future__ import annotations

import random

import pytest

from verl_pixel.data.boxes import (
    contains,
    expand,
    intersection_area,
    iou,
    normalize_box,
    relative_to,
    round_inward,
    round_outward,
    sample_disjoint_box,
    sample_enclosing_box,
)


def test_iou_and_containment():
    a, b = (0.0, 0.0, 0.5, 0.5), (0.25, 0.25, 0.75, 0.75)
    assert iou(a, b) == pytest.approx(0.0625 / (0.25 + 0.25 - 0.0625))
    assert iou(a, (0.5, 0.0, 1.0, 0.5)) == 0.0  # touching edges do not overlap
    assert contains((0.0, 0.0, 1.0, 1.0), a) and not contains(a, b)


def test_normalize_and_relative():
    assert normalize_box([160, 120, 320, 240], (1600, 1200)) == (0.1, 0.1, 0.2, 0.2)
    assert normalize_box([-5, 0, 1700, 1200], (1600, 1200)) == (0.0, 0.0, 1.0, 1.0)
    assert relative_to((0.3, 0.3, 0.4, 0.4), (0.2, 0.2, 0.6, 0.6)) == pytest.approx((0.25, 0.25, 0.5, 0.5))


def test_rounding_directions():
    box = (0.12345, 0.5, 0.67891, 0.9)
    assert round_outward(box, 3) == (0.123, 0.5, 0.679, 0.9)
    assert round_inward(box, 3) == (0.124, 0.5, 0.678, 0.9)
    assert contains(round_outward(box, 3), box) and contains(box, round_inward(box, 3))


def test_disjoint_boxes_keep_clearance_and_differ():
    rng = random.Random(0)
    cue = (0.45, 0.45, 0.5, 0.5)
    first = sample_disjoint_box(rng, cue, (0.1, 0.1), (0.11, 0.11))
    second = sample_disjoint_box(rng, cue, (0.1, 0.1), (0.11, 0.11), avoid=[first])
    for box in (first, second):
        assert box is not None
        assert intersection_area(box, expand(cue, 0.11, 0.11)) == 0.0
    assert iou(first, second) < 0.5


def test_disjoint_box_infeasible_when_cue_fills_image():
    assert sample_disjoint_box(random.Random(0), (0.05, 0.05, 0.95, 0.95), (0.2, 0.2), (0.11, 0.11)) is None


def test_enclosing_box_contains_cue_and_respects_area():
    rng = random.Random(1)
    cue = (0.9, 0.02, 0.95, 0.06)  # near a corner: the box is shifted, not clipped
    for _ in range(50):
        box = sample_enclosing_box(rng, cue, 3.0, 0.5)
        assert box is not None and contains(box, cue)
        assert box[0] >= 0.0 and box[2] <= 1.0 and box[1] >= 0.0 and box[3] <= 1.0
    assert sample_enclosing_box(rng, (0.2, 0.2, 0.7, 0.7), 3.0, 0.5) is None  # would cover the whole image
