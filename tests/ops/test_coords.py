"""The auto rule and box geometry on a non-square 560x336 view."""

from __future__ import annotations

import pytest

from verl_pixel.ops import Box, CoordinateConvention, resolve_convention
from verl_pixel.ops.coords import clamp_box, grow_to_min_side, outer_pixel_box, pad_box, to_view_pixels

AUTO = CoordinateConvention.AUTO
NORMALIZED = CoordinateConvention.NORMALIZED
PIXELS = CoordinateConvention.PIXELS
VIEW = (560, 336)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.1, 0.2, 0.5, 0.6], NORMALIZED),  # all < 1: normalized under both rules
        ([0.5, 0.5, 1.0, 1.0], NORMALIZED),  # Pixel Reasoner's trap: it read this as pixels
        ([0, 0, 1, 1], NORMALIZED),  # whole image as fractions (contains a value < 1)
        ([1, 1, 1, 1], PIXELS),  # no value < 1: pixels (a degenerate one)
        ([0.5, 0.5, 1.5, 1.0], PIXELS),  # a value above 1: pixels
        ([10, 20, 300, 200], PIXELS),
        ([-0.1, 0.2, 0.5, 0.6], PIXELS),  # outside [0, 1]: pixels, clamped later
    ],
)
def test_auto_rule(values, expected):
    assert resolve_convention(values, AUTO) is expected


def test_explicit_convention_is_kept():
    assert resolve_convention([0.1, 0.1, 0.2, 0.2], PIXELS) is PIXELS


@pytest.mark.parametrize(
    ("convention", "values", "expected"),
    [
        (PIXELS, [10, 20, 30, 40], (10, 20, 30, 40)),
        (NORMALIZED, [0.5, 0.25, 1.0, 0.5], (280, 84, 560, 168)),  # x * 560, y * 336
        (CoordinateConvention.RELATIVE1000, [500, 250, 1000, 500], (280, 84, 560, 168)),  # / 1000 then as above
    ],
)
def test_to_view_pixels(convention, values, expected):
    assert to_view_pixels(values, convention, VIEW).as_tuple() == pytest.approx(expected)


def test_pad_then_clamp():
    # 0.1 * 560 = 56 in x, 0.1 * 336 = 33.6 in y
    padded = pad_box(Box(10, 10, 100, 100), 0.1, VIEW)
    assert padded.as_tuple() == pytest.approx((-46, -23.6, 156, 133.6))
    assert clamp_box(padded, VIEW).as_tuple() == pytest.approx((0, 0, 156, 133.6))


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        (Box(100, 100, 110, 104), (91, 88, 119, 116)),  # grown about the centre (105, 102)
        (Box(555, 330, 560, 336), (532, 308, 560, 336)),  # grown, then shifted inside the bottom-right corner
        (Box(0, 0, 200, 100), (0, 0, 200, 100)),  # already large enough
    ],
)
def test_grow_to_min_side(box, expected):
    assert grow_to_min_side(box, 28, VIEW).as_tuple() == pytest.approx(expected)


def test_grow_is_capped_by_a_tiny_image():
    # a 20x10 image cannot hold a 28-px side: the box becomes the whole side
    assert grow_to_min_side(Box(2, 2, 4, 4), 28, (20, 10)).as_tuple() == (0, 0, 20, 10)


def test_outer_pixel_box_tolerates_float_noise():
    # 199.99999999 comes from chained scaling and must stay 200, not become 199 / 201
    assert outer_pixel_box(Box(199.99999999, 0.5, 400.00000001, 10.2), (1000, 600)) == (200, 0, 400, 11)
