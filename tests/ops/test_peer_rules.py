"""The operation rules the peer presets switch on: small crops refused, the crop tool's name, ending at once.

Pixel Reasoner (TIGER-AI-Lab/Pixel-Reasoner a3a6c3a, ``experience_maker.py``): ``CropImageNormalized.call``
(lines 135-161) pads by 0.1, clamps and ``assert w > 28 and h > 28``; the loop (line 2246) ends a trajectory whose
turn calls a tool after 4 calls (``num_toolcalls > 3``). DeepEyes (Visual-Agent/DeepEyes 6c5e796,
``visual_toolbox_v2.py`` ``validate_bbox``): no padding, ``min(height, width) > 30``.
"""

from __future__ import annotations

import pytest

from verl_pixel.ops import run_operation, tool_schemas
from verl_pixel.ops.budgets import WarnThenEnd, exhausted_budget_stop
from verl_pixel.ops.result import FailureReason
from verl_pixel.record import StopReason


@pytest.mark.parametrize(
    ("min_side", "bbox", "ok"),
    [
        # View pixels, padding 0: a 28x40 box has a side of exactly 28: refused under Pixel Reasoner's w > 28.
        (28, [100, 100, 128, 140], False),
        (28, [100, 100, 129, 140], True),
        # DeepEyes: min(height, width) > 30.
        (30, [100, 100, 130, 140], False),
        (30, [100, 100, 131, 140], True),
    ],
)
def test_small_boxes_are_refused_not_grown(make_registry, min_side, bbox, ok):
    registry = make_registry(padding=0.0, coordinates="pixels", small_box="reject", min_side=min_side)
    result = run_operation(registry, "crop_image", {"bbox_2d": bbox})
    assert result.ok is ok
    if not ok:
        width = bbox[2] - bbox[0]
        assert result.reason is FailureReason.DEGENERATE_BOX
        assert result.message.startswith(
            f"bbox_2d {bbox} gives a {width}x40 crop of image 1: both sides must be larger than {min_side} pixels."
        )
    # The default grows the same box instead (sides below min_side only).
    grown = run_operation(make_registry(padding=0.0, coordinates="pixels"), "crop_image", {"bbox_2d": bbox})
    assert grown.ok


def test_padding_counts_before_the_size_check(make_registry):
    # 10x10 view pixels + 0.1 padding (56 x, 33.6 y on the 560x336 view) = 122x77.2: larger than 28, kept.
    registry = make_registry(coordinates="pixels", small_box="reject")
    assert run_operation(registry, "crop_image", {"bbox_2d": [200, 100, 210, 110]}).ok


def test_crop_tool_is_offered_under_the_configured_name(view_config):
    names = [schema["function"]["name"] for schema in tool_schemas(view_config(crop_tool_name="crop_image_normalized"))]
    assert names == ["crop_image_normalized", "select_frames"]
    assert [s["function"]["name"] for s in tool_schemas(view_config())] == ["crop_image", "select_frames"]


def test_end_at_once_stops_the_call_after_the_budget(make_registry):
    registry = make_registry(budget_stop="end", max_operations=4)
    rule = WarnThenEnd()
    for _ in range(4):
        assert rule.stop_before_calls(registry) is None
        assert run_operation(registry, "crop_image", {"bbox_2d": [0.1, 0.1, 0.5, 0.5]}).ok
    assert rule.stop_before_calls(registry) is StopReason.MAX_OPERATIONS  # the 5th call: no warning first
    # The default answers the 5th call and ends on the 6th (warn, then end).
    default = make_registry(max_operations=4)
    default.operations_attempted = 4
    assert WarnThenEnd().stop_before_calls(default) is None
    assert exhausted_budget_stop(default) is StopReason.MAX_OPERATIONS


def test_end_at_once_on_a_full_image_budget(make_registry):
    registry = make_registry(budget_stop="end", max_images=2)
    assert WarnThenEnd().stop_before_calls(registry) is None  # room for one more
    assert run_operation(registry, "crop_image", {"bbox_2d": [0.1, 0.1, 0.5, 0.5]}).ok
    assert WarnThenEnd().stop_before_calls(registry) is StopReason.MAX_IMAGES
