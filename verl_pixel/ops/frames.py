"""The select_frames operation and the conversion of decoded video frames to images.

Frame numbers are 1..F over the video's *sampled* frames (the frames the model was shown, ``video_data``), as
Pixel Reasoner numbers them: its ``execute_tool`` returns ``candidates[x - 1]`` for each ``x`` of
``target_frames``, where ``candidates = images[0]`` is the processed video, and refuses more than 8 frames
(TIGER-AI-Lab/Pixel-Reasoner, curiosity_driven_rl/openrlhf/trainer/ppo_utils/experience_maker.py:1169-1199).
The frames come back as new images, numbered after the conversation's images, each resized to
``frame_max_pixels`` (Pixel Reasoner's training ``select_maxsize`` of 400 tokens, experience_maker.py:2303).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from verl_pixel.ops.arguments import check_argument_names, read_frame_numbers
from verl_pixel.ops.budgets import check_image_room
from verl_pixel.ops.config import SELECT_FRAMES_TOOL_NAME
from verl_pixel.ops.coords import Box
from verl_pixel.ops.registry import ImageKind, ImageRegistry
from verl_pixel.ops.resize import resize_to_budget, to_rgb
from verl_pixel.ops.result import FailureReason, OperationError, OperationResult, run_guarded

SELECT_FRAMES_USAGE = "Use select_frames(target_frames=[i, j, ...])."
_CHANNEL_COUNTS = (1, 3, 4)


def select_frames(registry: ImageRegistry, arguments: Any) -> OperationResult:
    """Return chosen sampled frames of the input video as new images; never raises.

    Args:
        registry: the trajectory's images and video frames; the returned frames are numbered in it.
        arguments: the call's decoded ``arguments`` (``target_frames``: 1-based frame numbers).

    Returns:
        The frames, each resized to ``frame_max_pixels``, or a failure with a message naming the argument.
    """
    return run_guarded(SELECT_FRAMES_TOOL_NAME, lambda: _select(registry, arguments))


def _select(registry: ImageRegistry, arguments: Any) -> OperationResult:
    config = registry.config
    check_argument_names(SELECT_FRAMES_TOOL_NAME, arguments, ("target_frames",), (), SELECT_FRAMES_USAGE)
    if registry.num_frames == 0:
        message = "select_frames works on a video and this conversation has none"
        if registry.num_images:
            message += "; use crop_image(bbox_2d=[x1, y1, x2, y2], target_image=N) on an image instead"
        raise OperationError(FailureReason.WRONG_MODALITY, message)
    frames = read_frame_numbers(
        "target_frames", arguments["target_frames"], registry.num_frames, config.max_frames_per_call
    )
    check_image_room(registry, len(frames), f"target_frames asks for {len(frames)} frames")
    images: list[Image.Image] = []
    numbers: list[int] = []
    for frame_number in frames:
        frame = to_rgb(registry.frame(frame_number))
        image = resize_to_budget(frame, config.factor, config.min_pixels, config.frame_max_pixels)
        source = registry.add_original(frame)
        region = Box(0.0, 0.0, float(frame.width), float(frame.height))
        numbers.append(registry.add_output(image, ImageKind.FRAME, source, region))
        images.append(image)
    return OperationResult(
        operation=SELECT_FRAMES_TOOL_NAME,
        ok=True,
        images=tuple(images),
        image_numbers=tuple(numbers),
        frames=frames,
    )


def frames_from_array(video: Any) -> list[Image.Image]:
    """Split a decoded video into RGB frames.

    Accepts what video decoders hand around: a ``(T, C, H, W)`` array (qwen_vl_utils' ``fetch_video``, float
    0..255) or a ``(T, H, W, C)`` one, as numpy or anything ``np.asarray`` understands, or a list of images.

    Raises:
        ValueError: if ``video`` is not a 4-D array or a list of images.
    """
    if isinstance(video, list | tuple) and all(isinstance(frame, Image.Image) for frame in video):
        return [to_rgb(frame) for frame in video]
    array = np.asarray(video)
    if array.ndim != 4:
        raise ValueError(f"expected a 4-D video array, got shape {array.shape}")
    if array.shape[1] in _CHANNEL_COUNTS and array.shape[-1] not in _CHANNEL_COUNTS:
        array = array.transpose(0, 2, 3, 1)  # TCHW -> THWC
    array = np.clip(np.rint(array), 0, 255).astype(np.uint8) if array.dtype != np.uint8 else array
    if array.shape[-1] == 1:
        array = array[..., 0]
    return [to_rgb(Image.fromarray(np.ascontiguousarray(frame))) for frame in array]
