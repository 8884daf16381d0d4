"""The one decoder of video references: datasets, row checks, synthesis and the benchmark loaders use it.

A video reference is what a ``videos`` entry (or a video content item) holds under ``"video"``:

* a **video file**: a path or ``file://`` URL, decoded with PyAV (installed with verl; it bundles FFmpeg). The
  frames sampled are qwen_vl_utils' (``nframes``, or ``fps`` within ``min_frames``/``max_frames``, over the
  ``video_start``/``video_end`` clip), as its torchcodec reader takes them;
* a **list of frames**: any image references :func:`verl_pixel.data.images.load_image` reads (paths, bytes, PIL
  images, data URLs), used whole and padded to an even count with the last frame.

Frames are then resized to the per-frame budget of :mod:`verl_pixel.data.video_sampling` (qwen_vl_utils'
``fetch_video``) and returned as ``(frames, metadata)``: a ``(T, 3, H, W)`` float32 tensor of 0..255 values and
``{"fps", "frames_indices", "total_num_frames", "video_backend"}``, the pair verl's agent loop stores in
``video_data`` and hands to the processor (``video_metadata``, ``do_sample_frames=False``). Resizing is PIL's
antialiased bicubic where qwen_vl_utils uses torchvision's: the same sizes, indices and metadata (checked against
``fetch_video`` on a python-only torchvision), pixel values equal where no resize happens and close where one does
(random-noise frames upscaled 1.5x: mean |difference| 0.23 of 255, at most 21).

Errors are :class:`VideoDecodeError` naming the reference and why: a missing or corrupt file, a file with no
decodable frame, a remote URL (not fetched), frames of different sizes, a frame over the decompression-bomb limit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from verl_pixel.constants import MAX_IMAGE_PIXELS, QWEN25_VL_PATCH_SIZE
from verl_pixel.data.images import ImageDecodeError, describe_ref, load_image
from verl_pixel.data.sft_schema import video_file_problem, video_reference
from verl_pixel.data.video_sampling import (
    FRAME_FACTOR,
    LIST_SAMPLE_FPS,
    VideoSampling,
    ceil_by_factor,
    frame_range,
    list_frame_size,
    sampled_indices,
    smart_nframes,
    video_frame_size,
)
from verl_pixel.ops.resize import RESAMPLE

logger = logging.getLogger(__name__)

PYAV_BACKEND = "pyav"


class VideoDecodeError(ValueError):
    """A video reference could not be decoded; the message says which reference and why."""


class DecodedVideo(NamedTuple):
    """A decoded video in verl's ``video_data`` form (a tuple, as qwen_vl_utils returns it)."""

    frames: Any  # torch.Tensor (T, 3, H, W), float32, values 0..255
    metadata: dict[str, Any]


def video_source(entry: Any) -> str | list[Any]:
    """The reference of one ``videos`` entry or video item (:func:`~verl_pixel.data.sft_schema.video_reference`).

    Raises:
        VideoDecodeError: for any other form, an empty list or an empty path.
    """
    try:
        return video_reference(entry)
    except ValueError as err:
        raise VideoDecodeError(str(err)) from None


def load_video(
    item: Any, image_patch_size: int = QWEN25_VL_PATCH_SIZE, max_frame_pixels: int = MAX_IMAGE_PIXELS
) -> DecodedVideo:
    """Decode, sample and resize one video (module docstring).

    Args:
        item: a ``videos`` entry or video content item (``{"video": ..., **sampling keys}``), or a bare reference.
        image_patch_size: the vision patch size (14 for Qwen2.5-VL, 16 for Qwen3-VL); the resize factor is twice it.
        max_frame_pixels: refuse frames with more pixels than this (decompression-bomb guard).

    Raises:
        VideoDecodeError: the reference cannot be decoded (see module docstring) or its keys are invalid.
    """
    import torch

    source = video_source(item)
    try:
        sampling = VideoSampling.from_item(item if isinstance(item, Mapping) else {})
        if isinstance(source, str):
            frames, metadata = _sample_file(source, sampling, max_frame_pixels)
        else:
            frames, metadata = _frame_list(source, sampling, image_patch_size, max_frame_pixels)
        height, width = video_frame_size(frames[0].height, frames[0].width, len(frames), sampling, image_patch_size)
    except ValueError as err:
        if isinstance(err, VideoDecodeError):
            raise
        raise VideoDecodeError(f"video {describe_ref(source)}: {err}") from err
    arrays = np.stack([np.asarray(_resized(frame, (width, height))) for frame in frames])
    # numpy, then a zero-copy tensor: no torch kernel runs here. verl's length filter decodes rows in forked
    # `datasets` workers, where a multi-threaded (OpenMP) torch op hangs once the parent has used OpenMP.
    tensor = torch.from_numpy(np.ascontiguousarray(arrays.transpose(0, 3, 1, 2), dtype=np.float32))
    return DecodedVideo(tensor, metadata)


def _resized(frame: Image.Image, size: tuple[int, int]) -> Image.Image:
    return frame if frame.size == size else frame.resize(size, RESAMPLE)


def _frame_list(
    refs: list[Any], sampling: VideoSampling, image_patch_size: int, max_frame_pixels: int
) -> tuple[list[Image.Image], dict[str, Any]]:
    """qwen_vl_utils' list branch of ``fetch_video``: every frame, each through ``fetch_image``, padded to even."""
    frames: list[Image.Image] = []
    for index, ref in enumerate(refs):
        try:
            image = load_image(ref, max_frame_pixels)
        except ImageDecodeError as err:
            raise VideoDecodeError(f"frame {index}: {err}") from err
        height, width = list_frame_size(image.height, image.width, sampling, image_patch_size)
        frames.append(_resized(image, (width, height)))
    sizes = {frame.size for frame in frames}
    if len(sizes) > 1:
        raise VideoDecodeError(f"the frames of a video must have one size, got {sorted(sizes)}")
    nframes = ceil_by_factor(len(frames), FRAME_FACTOR)
    frames += [frames[-1]] * (nframes - len(frames))
    sample_fps = sampling.sample_fps if sampling.sample_fps is not None else LIST_SAMPLE_FPS
    raw_fps = sampling.raw_fps if sampling.raw_fps is not None else sample_fps
    metadata = {
        "fps": raw_fps,
        "frames_indices": list(range(len(frames))),
        "total_num_frames": (nframes / sample_fps) * raw_fps,
        "video_backend": PYAV_BACKEND,
    }
    return frames, metadata


def _sample_file(path: str, sampling: VideoSampling, max_frame_pixels: int) -> tuple[list[Image.Image], dict]:
    """qwen_vl_utils' torchcodec reader, with PyAV: the clip's frame range, ``smart_nframes``, linspace indices."""
    path = _local_path(path)
    total, fps = probe_video_file(path)
    first, last, clip_frames = frame_range(sampling, total, fps)
    nframes = smart_nframes(sampling, clip_frames, fps)
    indices = sampled_indices(first, last, nframes)
    frames = decode_video_frames(path, indices, max_frame_pixels)
    metadata = {"fps": fps, "frames_indices": indices, "total_num_frames": clip_frames, "video_backend": PYAV_BACKEND}
    return frames, metadata


def _local_path(ref: str) -> str:
    problem = video_file_problem(ref)
    if problem:
        raise VideoDecodeError(problem)
    return ref.removeprefix("file://")


def probe_video_file(path: str | os.PathLike) -> tuple[int, float]:
    """``(frame count, fps)`` of a file's first video stream; the count is its packets', as a full scan gives it.

    Raises:
        VideoDecodeError: the file is not a video PyAV can read, or has no video stream, frames or frame rate.
    """
    import av

    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                raise VideoDecodeError(f"{path}: no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            count = sum(1 for packet in container.demux(stream) if packet.size)
    except av.error.FFmpegError as err:
        raise VideoDecodeError(f"cannot decode video {path}: {err}") from err
    if count <= 0:
        raise VideoDecodeError(f"cannot decode video {path}: no frames")
    if not rate or Fraction(rate) <= 0:
        raise VideoDecodeError(f"cannot decode video {path}: no frame rate")
    return count, float(rate)


def decode_video_frames(
    path: str | os.PathLike, indices: Sequence[int], max_frame_pixels: int = MAX_IMAGE_PIXELS
) -> list[Image.Image]:
    """The RGB frames at ``indices`` (0-based, decode order) of a video file, in the order asked.

    A file whose tail does not decode (the container promises more frames than decode) gives its last decoded frame
    for the missing indices, with a warning.

    Raises:
        VideoDecodeError: nothing decodes, or a frame is over ``max_frame_pixels``.
    """
    import av

    wanted, stop = set(indices), max(indices)
    decoded: dict[int, Image.Image] = {}
    last: tuple[int, Any] | None = None  # (index, frame) of the last frame decoded
    try:
        with av.open(os.fspath(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if frame.width * frame.height > max_frame_pixels:
                    raise VideoDecodeError(f"{path}: frames of {frame.width}x{frame.height} are over the pixel limit")
                last = (index, frame)
                if index in wanted:
                    decoded[index] = frame.to_image().convert("RGB")
                if index >= stop:
                    break
    except av.error.FFmpegError as err:
        if last is None:
            raise VideoDecodeError(f"cannot decode video {path}: no decodable frame ({err})") from err
        logger.warning("video %s stops decoding after frame %d: %s", path, last[0], err)
    if last is None:
        raise VideoDecodeError(f"cannot decode video {path}: no decodable frame")
    missing = sorted(wanted - set(decoded))
    if missing:
        logger.warning("video %s: frames %s do not decode; using its last frame (%d)", path, missing, last[0])
        decoded.update(dict.fromkeys(missing, last[1].to_image().convert("RGB")))
    return [decoded[index] for index in indices]
