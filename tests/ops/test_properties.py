"""Property tests: no argument dict raises, and every success is a non-empty image within its pixel budget."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verl_pixel.ops import (
    CROP_TOOL_ALIASES,
    FailureReason,
    ImageRegistry,
    OperationResult,
    VisualOpsConfig,
    run_operation,
)

CONFIG = VisualOpsConfig(image_max_pixels=256 * 28 * 28, max_operations=100)
BUDGETS = {"crop_image": CONFIG.crop_max_pixels, "select_frames": CONFIG.frame_max_pixels}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=12,
)
# boxes that often succeed: four numbers in normalized or pixel ranges, in any order
plausible_boxes = st.lists(st.floats(min_value=-50, max_value=700) | st.floats(0, 1), min_size=4, max_size=4)
ordered_boxes = plausible_boxes.map(lambda v: [min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])])
argument_values = {
    "bbox_2d": plausible_boxes | json_values,
    "target_image": st.integers(-2, 4) | json_values,
    "target_frames": st.lists(st.integers(-1, 18), max_size=10) | json_values,
    "label": st.text(max_size=5) | json_values,
}
any_arguments = st.fixed_dictionaries({}, optional=argument_values) | json_values
tool_names = st.sampled_from([*CROP_TOOL_ALIASES, "select_frames", "draw", ""])
# well-shaped calls, so that a good share of examples reach the success path
crop_calls = st.tuples(
    st.sampled_from(CROP_TOOL_ALIASES),
    st.fixed_dictionaries({"bbox_2d": ordered_boxes | plausible_boxes}, optional={"target_image": st.integers(0, 3)}),
)
frame_calls = st.tuples(
    st.just("select_frames"),
    st.fixed_dictionaries(
        {
            "target_frames": st.lists(st.integers(0, 17), min_size=0, max_size=9)
            | st.lists(st.integers(1, 16), max_size=8, unique=True)
        }
    ),
)
calls = crop_calls | frame_calls | st.tuples(tool_names, any_arguments)


def _fresh_registry(images: list, frames: list) -> ImageRegistry:
    registry = ImageRegistry.from_inputs(CONFIG, [images[1]], [images[0]], frames)
    # a crop already exists, so target_image=2 is valid and crop-of-crop paths are exercised
    assert run_operation(registry, "crop_image", {"bbox_2d": [0.2, 0.2, 0.6, 0.5]}).ok
    return registry


def _assert_well_formed(result: OperationResult, operation: str) -> None:
    assert isinstance(result, OperationResult)
    if result.ok:
        assert result.images and result.reason is None and not result.message
        for image in result.images:
            assert 0 < image.width * image.height <= BUDGETS[operation]
            assert image.width % CONFIG.factor == 0 and image.height % CONFIG.factor == 0
    else:
        assert result.message and result.reason is not None
        assert result.reason is not FailureReason.INTERNAL, result.message  # no bug paths
        assert not result.images


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=calls)
def test_no_input_raises_and_successes_fit_the_budget(original, model_view, video_frames, call):
    name, args = call
    registry = _fresh_registry([original, model_view], video_frames)
    result = run_operation(registry, name, args)
    _assert_well_formed(result, result.operation)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    corners=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
    target=st.sampled_from([1, 2]),
)
def test_every_sensible_normalized_box_succeeds_inside_the_original(
    original, model_view, video_frames, corners, target
):
    x1, x2 = sorted(corners[0::2])
    y1, y2 = sorted(corners[1::2])
    if not (x1 < x2 and y1 < y2) or math.isclose(x1, x2) or math.isclose(y1, y2):
        return
    registry = _fresh_registry([original, model_view], video_frames)
    result = run_operation(registry, "crop_image", {"bbox_2d": [x1, y1, x2, y2], "target_image": target})
    assert result.ok, result.message
    _assert_well_formed(result, "crop_image")
    left, top, right, bottom = result.region
    assert 0 <= left < right <= original.width and 0 <= top < bottom <= original.height
    if target == 2:  # a crop of image 2 stays inside image 2's region of the original
        parent = registry.view(2).region
        assert (
            parent.x1 <= left and right <= math.ceil(parent.x2) and parent.y1 <= top and bottom <= math.ceil(parent.y2)
        )
