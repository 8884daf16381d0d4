"""Every malformed call is answered with a specific message naming the argument and what is allowed.

Reference registry: one input image seen at 560x336 (coordinates ``auto``), a 16-frame video where noted.
"""

from __future__ import annotations

import math

import pytest

from verl_pixel.ops import FailureReason, ImageRegistry, run_operation

AUTO_HINT = "fractions in [0, 1] or pixels of image 1 as you see it: 0 <= x1 < x2 <= 560, 0 <= y1 < y2 <= 336"

# (arguments, expected reason, substrings the message must contain)
CROP_ERRORS = [
    # no bbox at all
    ({}, FailureReason.MISSING_ARGUMENT, ["crop_image is missing bbox_2d", "bbox_2d=[x1, y1, x2, y2]"]),
    # an argument the tool does not have; the allowed ones are listed
    (
        {"bbox_2d": [1, 2, 30, 40], "zoom": 2},
        FailureReason.UNEXPECTED_ARGUMENT,
        ['"zoom"', "bbox_2d, label, target_image"],
    ),
    # arguments that are not an object
    ([1, 2, 3, 4], FailureReason.BAD_TYPE, ["arguments must be a JSON object"]),
    # bbox as a string
    ({"bbox_2d": "10,10,50,50"}, FailureReason.BAD_TYPE, ["bbox_2d must be a list of 4 numbers", AUTO_HINT]),
    # three numbers
    ({"bbox_2d": [1, 2, 3]}, FailureReason.BAD_TYPE, ["bbox_2d must have 4 numbers", "got 3", AUTO_HINT]),
    # nested lists, two corners
    ({"bbox_2d": [[1, 2], [30, 40]]}, FailureReason.BAD_TYPE, ["bbox_2d must have 4 numbers", "got 2"]),
    # one nested element
    ({"bbox_2d": [1, [2], 30, 40]}, FailureReason.BAD_TYPE, ["bbox_2d[1] must be a number, got [2]", AUTO_HINT]),
    # a boolean is not a number, even though bool subclasses int
    ({"bbox_2d": [True, 0, 30, 40]}, FailureReason.BAD_TYPE, ["bbox_2d[0] must be a number, got true"]),
    # numeric string
    ({"bbox_2d": [0, "5", 30, 40]}, FailureReason.BAD_TYPE, ['bbox_2d[1] must be a number, got "5"']),
    # NaN (Python's json accepts it)
    ({"bbox_2d": [0, 0, math.nan, 40]}, FailureReason.BAD_TYPE, ["bbox_2d[2] must be a finite number, got NaN"]),
    # infinity
    ({"bbox_2d": [0, 0, 30, math.inf]}, FailureReason.BAD_TYPE, ["bbox_2d[3] must be a finite number, got Infinity"]),
    # an integer too large for a float
    (
        {"bbox_2d": [0, 0, 10**400, 40]},
        FailureReason.OUT_OF_RANGE,
        ["bbox_2d[2] = ", "far outside the image", AUTO_HINT],
    ),
    # a huge float
    ({"bbox_2d": [0, 0, 1e300, 40]}, FailureReason.OUT_OF_RANGE, ["bbox_2d[2] = 1e+300 is far outside"]),
    # inverted corners
    ({"bbox_2d": [300, 50, 100, 250]}, FailureReason.DEGENERATE_BOX, ["needs x1 < x2 and y1 < y2", AUTO_HINT]),
    # zero width
    ({"bbox_2d": [100, 50, 100, 250]}, FailureReason.DEGENERATE_BOX, ["needs x1 < x2 and y1 < y2"]),
    # entirely right of the 560-px-wide view
    ({"bbox_2d": [600, 10, 700, 50]}, FailureReason.DEGENERATE_BOX, ["lies outside image 1", AUTO_HINT]),
    # image numbers start at 1
    (
        {"bbox_2d": [1, 2, 30, 40], "target_image": 0},
        FailureReason.OUT_OF_RANGE,
        ["target_image must be a whole number from 1 to 1", "got 0"],
    ),
    # only one image exists
    (
        {"bbox_2d": [1, 2, 30, 40], "target_image": 2},
        FailureReason.OUT_OF_RANGE,
        ["target_image must be a whole number from 1 to 1 (images so far), got 2"],
    ),
    # fractional index
    ({"bbox_2d": [1, 2, 30, 40], "target_image": 1.5}, FailureReason.BAD_TYPE, ["target_image must be", "got 1.5"]),
    # index as a string
    ({"bbox_2d": [1, 2, 30, 40], "target_image": "1"}, FailureReason.BAD_TYPE, ["target_image must be", 'got "1"']),
    # index as a boolean
    ({"bbox_2d": [1, 2, 30, 40], "target_image": True}, FailureReason.BAD_TYPE, ["target_image must be", "got true"]),
    # explicit null index
    ({"bbox_2d": [1, 2, 30, 40], "target_image": None}, FailureReason.BAD_TYPE, ["target_image must be", "got null"]),
    # arguments can only name indices: a path is neither an image number nor an argument
    ({"bbox_2d": [1, 2, 30, 40], "target_image": "/etc/passwd"}, FailureReason.BAD_TYPE, ['got "/etc/passwd"']),
    ({"bbox_2d": [1, 2, 30, 40], "image": "https://x/y.png"}, FailureReason.UNEXPECTED_ARGUMENT, ['"image"']),
    # DeepEyes' label must at least be text
    ({"bbox_2d": [1, 2, 30, 40], "label": 5}, FailureReason.BAD_TYPE, ["label must be a short text"]),
]


@pytest.mark.parametrize(("arguments", "reason", "fragments"), CROP_ERRORS)
def test_crop_errors_name_the_argument(make_registry, arguments, reason, fragments):
    registry = make_registry()
    result = run_operation(registry, "crop_image", arguments)
    assert not result.ok and result.images == ()
    assert result.reason is reason
    for fragment in fragments:
        assert fragment in result.message
    assert len(result.message) <= 256  # verl truncates tool text beyond max_tool_response_length (256)
    assert registry.num_images == 1  # a failed call adds no image


def test_integral_float_index_is_accepted(make_registry):
    # Pixel Reasoner's schema types target_image as "number", so 1.0 must work
    assert run_operation(make_registry(), "crop_image", {"bbox_2d": [1, 2, 30, 40], "target_image": 1.0}).ok


def test_deepeyes_label_is_accepted(make_registry):
    assert run_operation(make_registry(), "image_zoom_in_tool", {"bbox_2d": [1, 2, 30, 40], "label": "sign"}).ok


def test_aspect_ratio_above_limit(make_registry):
    # with min_side 1 nothing grows the 400x1 box: aspect 400 > 200
    result = run_operation(make_registry(min_side=1, padding=0.0), "crop_image", {"bbox_2d": [0, 0, 400, 1]})
    assert result.reason is FailureReason.BAD_ASPECT
    assert "at most 200 times the short side" in result.message and "bbox_2d [0, 0, 400, 1]" in result.message


@pytest.mark.parametrize(
    ("name", "reason", "fragment"),
    [
        # a tool that does not exist; the available ones are listed
        ("draw_box", FailureReason.UNKNOWN_TOOL, 'unknown tool "draw_box"; available: crop_image, select_frames'),
        # a name that is not a string at all
        (None, FailureReason.UNKNOWN_TOOL, "unknown tool null"),
    ],
)
def test_unknown_tool(make_registry, name, reason, fragment):
    result = run_operation(make_registry(), name, {})
    assert result.reason is reason and fragment in result.message
    assert result.operation == "unknown"  # the metrics label stays small whatever the model wrote


def test_no_tool_mode_refuses_every_call(make_registry):
    result = run_operation(make_registry(), "crop_image", {"bbox_2d": [1, 2, 30, 40]}, available=())
    assert result.reason is FailureReason.NOT_ALLOWED and "no visual operations are available" in result.message


def test_call_budget_counts_every_attempt(make_registry):
    registry = make_registry(max_operations=2)
    assert not run_operation(registry, "crop_image", {}).ok  # a malformed call still counts
    assert run_operation(registry, "crop_image", {"bbox_2d": [1, 2, 30, 40]}).ok
    third = run_operation(registry, "crop_image", {"bbox_2d": [1, 2, 30, 40]})
    assert third.reason is FailureReason.CALL_BUDGET
    assert "used all 2 visual operations" in third.message


def test_image_budget(make_registry):
    registry = make_registry(max_images=2)
    assert run_operation(registry, "crop_image", {"bbox_2d": [1, 2, 30, 40]}).ok
    result = run_operation(registry, "crop_image", {"bbox_2d": [1, 2, 30, 40]})
    assert result.reason is FailureReason.IMAGE_BUDGET and "already has 2 images" in result.message


def test_crop_on_a_video_only_conversation(view_config, video_frames):
    registry = ImageRegistry.from_inputs(view_config(), [], video_frames=video_frames)
    result = run_operation(registry, "crop_image", {"bbox_2d": [1, 2, 30, 40]})
    assert result.reason is FailureReason.WRONG_MODALITY
    assert "input is a video: call select_frames first" in result.message


def test_crop_video_frames_numbers_frames_as_images(view_config, video_frames):
    # Pixel Reasoner's mode: frames 1..16 are images 1..16, so crop_image can target frame 3 directly
    registry = ImageRegistry.from_inputs(
        view_config(crop_video_frames=True, max_images=20), [], video_frames=video_frames
    )
    result = run_operation(registry, "crop_image", {"bbox_2d": [0.0, 0.0, 0.5, 0.5], "target_image": 3})
    assert result.ok and result.image_numbers == (17,)
