"""select_frames: numbering, resizing to the frame budget, malformed selections, video array conversion."""

from __future__ import annotations

import numpy as np
import pytest

from verl_pixel.ops import FailureReason, ImageKind, ImageRegistry, frames_from_array, run_operation


@pytest.fixture
def video_registry(view_config, model_view, original, video_frames):
    """One input image plus a 16-frame video; frames are 224x168."""
    return ImageRegistry.from_inputs(view_config(), [model_view], [original], video_frames)


def test_selected_frames_become_numbered_images(video_registry, video_frames):
    result = run_operation(video_registry, "select_frames", {"target_frames": [3, 1, 16]})
    assert result.ok and result.frames == (3, 1, 16)
    # numbered after the one input image, in the order asked for
    assert result.image_numbers == (2, 3, 4)
    # 224x168 is under 400*28*28 and a multiple of 28: unchanged
    assert [image.size for image in result.images] == [(224, 168)] * 3
    assert result.images[0].tobytes() == video_frames[2].tobytes()
    assert video_registry.view(2).kind is ImageKind.FRAME


def test_frames_are_resized_to_the_frame_budget(view_config, noise_image):
    # 1120x840 = 940800 > 400*28*28 = 313600: beta = sqrt(940800/313600) = 1.732;
    # floor(1120/1.732/28)*28 = 644, floor(840/1.732/28)*28 = 476
    registry = ImageRegistry.from_inputs(view_config(), video_frames=[noise_image((1120, 840))] * 4)
    image = run_operation(registry, "select_frames", {"target_frames": [2]}).images[0]
    assert image.size == (644, 476)


def test_crop_of_a_selected_frame(video_registry):
    run_operation(video_registry, "select_frames", {"target_frames": [5]})  # image 2, 224x168
    result = run_operation(video_registry, "crop_image", {"bbox_2d": [0.0, 0.0, 0.5, 0.5], "target_image": 2})
    # normalized half of 224x168 = [0,0,112,84], padded by 22.4/16.8 and clamped -> [0,0,134.4,100.8] -> outward
    # [0,0,135,101]; 135 -> 5*28 = 140, 101 -> 4*28 = 112
    assert result.region == (0, 0, 135, 101) and result.images[0].size == (140, 112)


# (target_frames, expected reason, substrings of the message)
FRAME_ERRORS = [
    # empty selection
    ([], FailureReason.BAD_TYPE, ["target_frames must be a list of 1 to 8 different frame numbers from 1 to 16"]),
    # a single number instead of a list
    (3, FailureReason.BAD_TYPE, ["target_frames must be a list", "got 3"]),
    # a string
    ("1,2", FailureReason.BAD_TYPE, ["target_frames must be a list", 'got "1,2"']),
    # frame numbers start at 1
    ([0, 2], FailureReason.OUT_OF_RANGE, ["target_frames[0] must be a whole number from 1 to 16", "got 0"]),
    # past the last sampled frame
    ([2, 17], FailureReason.OUT_OF_RANGE, ["target_frames[1] must be a whole number from 1 to 16", "got 17"]),
    # fractional
    ([1.5], FailureReason.BAD_TYPE, ["target_frames[0] must be", "got 1.5"]),
    # nested
    ([[1, 2]], FailureReason.BAD_TYPE, ["target_frames[0] must be", "got [1, 2]"]),
    # boolean
    ([True], FailureReason.BAD_TYPE, ["target_frames[0] must be", "got true"]),
    # duplicates
    ([4, 2, 4], FailureReason.DUPLICATE_FRAMES, ["target_frames lists frame 4 more than once"]),
    # nine frames, the limit is eight per call
    (list(range(1, 10)), FailureReason.TOO_MANY_FRAMES, ["target_frames has 9 frames; pick at most 8", "1 to 16"]),
]


@pytest.mark.parametrize(("frames", "reason", "fragments"), FRAME_ERRORS)
def test_frame_errors_name_the_argument(video_registry, frames, reason, fragments):
    result = run_operation(video_registry, "select_frames", {"target_frames": frames})
    assert result.reason is reason
    for fragment in fragments:
        assert fragment in result.message
    assert video_registry.num_images == 1


def test_missing_and_extra_arguments(video_registry):
    missing = run_operation(video_registry, "select_frames", {})
    assert (
        missing.reason is FailureReason.MISSING_ARGUMENT and "select_frames is missing target_frames" in missing.message
    )
    extra = run_operation(video_registry, "select_frames", {"target_frames": [1], "fps": 2})
    assert extra.reason is FailureReason.UNEXPECTED_ARGUMENT and 'unknown argument "fps"' in extra.message


def test_select_frames_without_a_video(make_registry):
    result = run_operation(make_registry(), "select_frames", {"target_frames": [1]})
    assert result.reason is FailureReason.WRONG_MODALITY
    assert "works on a video" in result.message and "use crop_image" in result.message


def test_frame_budget_of_the_trajectory(view_config, video_frames):
    registry = ImageRegistry.from_inputs(view_config(max_images=4), video_frames=video_frames)
    result = run_operation(registry, "select_frames", {"target_frames": [1, 2, 3, 4, 5]})
    assert result.reason is FailureReason.IMAGE_BUDGET and "only 4 more images fit" in result.message


@pytest.mark.parametrize(
    ("array", "size"),
    [
        # fetch_video's layout: (T, C, H, W) floats in 0..255
        (np.full((2, 3, 28, 56), 200.0, dtype=np.float32), (56, 28)),
        # decoder layout: (T, H, W, C) uint8
        (np.zeros((2, 28, 56, 3), dtype=np.uint8), (56, 28)),
        # grayscale (T, 1, H, W)
        (np.zeros((2, 1, 28, 56), dtype=np.float32), (56, 28)),
    ],
)
def test_frames_from_array(array, size):
    frames = frames_from_array(array)
    assert len(frames) == 2 and all(frame.mode == "RGB" and frame.size == size for frame in frames)


def test_frames_from_array_rejects_non_video():
    with pytest.raises(ValueError, match="4-D"):
        frames_from_array(np.zeros((28, 28, 3)))
