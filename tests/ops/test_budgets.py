"""The budgets and the warn-then-end rule (ops/budgets.py), the one rule book of training and evaluation."""

from __future__ import annotations

import pytest

from verl_pixel.ops import (
    FailureReason,
    ImageKind,
    ImageRegistry,
    WarnThenEnd,
    counted_images,
    image_room,
    run_operation,
    spent_budget_stop,
)
from verl_pixel.record import StopReason

CROP = {"bbox_2d": [0.0, 0.0, 0.5, 0.5]}


def test_video_frames_do_not_count_however_they_arrive(view_config, video_frames):
    # as a video (verl's video path): nothing numbered yet, 4 images fit
    as_video = ImageRegistry.from_inputs(view_config(max_images=4), video_frames=video_frames)
    # as images whose row says they are the frames (eval rows, extra_info.num_video_frames=16)
    as_images = ImageRegistry.from_inputs(view_config(max_images=4), video_frames, frame_images=16)
    # numbered directly for crop_image (crop_video_frames)
    numbered = ImageRegistry.from_inputs(view_config(max_images=4, crop_video_frames=True), video_frames=video_frames)
    for registry, numbered_images in ((as_video, 0), (as_images, 16), (numbered, 16)):
        assert (registry.num_images, counted_images(registry), image_room(registry)) == (numbered_images, 0, 4)
        assert registry.num_frames == 16
    assert [as_images.view(n).kind for n in (1, 16)] == [ImageKind.FRAME, ImageKind.FRAME]
    # the same call gets the same answer in all three
    for registry in (as_video, as_images, numbered):
        result = run_operation(registry, "select_frames", {"target_frames": [1, 2, 3, 4, 5]})
        assert (result.reason, result.message) == (
            FailureReason.IMAGE_BUDGET,
            "target_frames asks for 5 frames but only 4 more images fit in this conversation",
        )
        assert run_operation(registry, "select_frames", {"target_frames": [1, 2]}).ok
        assert image_room(registry) == 2


def test_frame_images_are_the_frames_of_select_frames(view_config, video_frames):
    registry = ImageRegistry.from_inputs(view_config(), video_frames, frame_images=16)
    result = run_operation(registry, "select_frames", {"target_frames": [3]})
    assert result.image_numbers == (17,) and result.images[0].tobytes() == video_frames[2].tobytes()


def test_a_frame_count_that_is_not_all_images_means_images(view_config, video_frames):
    registry = ImageRegistry.from_inputs(view_config(max_images=20), video_frames, frame_images=3)
    assert (registry.num_frame_inputs, registry.num_frames, counted_images(registry)) == (0, 0, 16)


def test_spent_image_budget_message_and_stop(view_config, video_frames, make_registry):
    registry = ImageRegistry.from_inputs(view_config(max_images=2), video_frames, frame_images=16)
    assert run_operation(registry, "select_frames", {"target_frames": [1, 2]}).ok
    refused = run_operation(registry, "select_frames", {"target_frames": [3]})
    assert refused.message == "this conversation already has 2 images besides the video's frames, the maximum"
    assert spent_budget_stop(registry, [refused.reason]) is StopReason.MAX_IMAGES
    images = make_registry(max_images=1)  # the input image fills it
    refused = run_operation(images, "crop_image", CROP)
    assert refused.message == "this conversation already has 1 images, the maximum"


@pytest.mark.parametrize(
    ("max_images", "max_operations", "calls", "reasons", "expected"),
    [
        # room left after an image refusal: fixable, no warning
        (3, 4, 1, [FailureReason.IMAGE_BUDGET], None),
        # no room left: spent
        (2, 4, 1, [FailureReason.IMAGE_BUDGET], StopReason.MAX_IMAGES),
        # an image refusal with room left that used the last operation: not yet told about operations
        (3, 2, 2, [FailureReason.IMAGE_BUDGET], None),
        # the operation budget refusal always means spent
        (16, 2, 3, [FailureReason.CALL_BUDGET], StopReason.MAX_OPERATIONS),
        # both spent in one turn: images win
        (2, 2, 3, [FailureReason.CALL_BUDGET, FailureReason.IMAGE_BUDGET], StopReason.MAX_IMAGES),
        # other failures and successes (training's events say "" for success)
        (2, 2, 3, [FailureReason.BAD_JSON, "", None], None),
        (2, 2, 3, ["call_budget"], StopReason.MAX_OPERATIONS),
    ],
)
def test_spent_budget_stop(make_registry, max_images, max_operations, calls, reasons, expected):
    registry = make_registry(max_images=max_images, max_operations=max_operations)
    registry.add_input(registry.view(1).image)  # 2 images now
    registry.operations_attempted = calls
    assert spent_budget_stop(registry, reasons) is expected


def test_warn_then_end_keeps_the_first_warning(make_registry):
    registry = make_registry(max_images=1, max_operations=1)
    rule = WarnThenEnd()
    rule.after_tool_turn(None, [FailureReason.CALL_BUDGET])  # no call ran yet: nothing to judge
    assert rule.stop_before_calls() is None
    rule.after_tool_turn(registry, [FailureReason.IMAGE_BUDGET])
    rule.after_tool_turn(registry, [FailureReason.CALL_BUDGET])
    assert rule.stop_before_calls() is StopReason.MAX_IMAGES
