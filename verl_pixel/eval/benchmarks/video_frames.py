"""Sampling a fixed number of frames from a video file (PyAV) or a folder of frame images.

Files are decoded by the project's one video decoder (:mod:`verl_pixel.data.videos`, PyAV). The frame indices
follow MVBench's own evaluation (``get_index`` in the authors' ``mvbench.ipynb``): the clip ``[start, end]`` seconds
(the whole video without a bound) is cut into ``num_segments`` equal segments and the middle frame of each is taken.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from verl_pixel.data.videos import decode_video_frames, probe_video_file

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
JPEG_QUALITY = 95
# MVBench's "no bound" sentinel: a clip from -100000 s to 100000 s, clamped to the video.
_UNBOUNDED = (-100000.0, 100000.0)


def segment_frame_indices(
    num_segments: int, max_frame: int, fps: float, bound: tuple[float, float] | None = None, first_index: int = 0
) -> list[int]:
    """MVBench's frame indices: the middle frame of each of ``num_segments`` equal segments of the clip.

    Args:
        num_segments: frames to sample (16 for Pixel Reasoner's MVBench setting).
        max_frame: the last valid index (``len(video) - 1`` for a video, the frame count for a 1-based folder).
        fps: frames per second (to convert the bound in seconds to frame indices).
        bound: ``(start, end)`` seconds of the clip, or ``None`` for the whole video.
        first_index: the first valid index (0 for videos, 1 for MVBench's 1-based frame folders).
    """
    start, end = bound if bound is not None else _UNBOUNDED
    start_index = max(first_index, round(start * fps))
    end_index = min(round(end * fps), max_frame)
    segment = float(end_index - start_index) / num_segments
    return [int(start_index + segment / 2 + np.round(segment * index)) for index in range(num_segments)]


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def video_file_frames(path: Path, num_segments: int, bound: tuple[float, float] | None = None) -> list[bytes]:
    """Sample ``num_segments`` frames of a video file as JPEG bytes (decoded by the one video decoder).

    Raises:
        ValueError: if the file cannot be decoded or has no frames.
    """
    count, fps = probe_video_file(path)
    wanted = segment_frame_indices(num_segments, count - 1, fps, bound)
    return [_jpeg(frame) for frame in decode_video_frames(path, wanted)]


def folder_frames(folder: Path, num_segments: int, fps: float, bound: tuple[float, float] | None = None) -> list[bytes]:
    """Sample frames from a folder of frame images (files in name order, numbered from 1).

    A folder of exactly ``num_segments`` frames and no ``bound`` is taken whole (already sampled, e.g. Pixel
    Reasoner's extracted MVBench frames); otherwise MVBench's rule for its frame folders applies (1-based, ``fps``
    to place the bound), so a bounded clip keeps to its ``start``/``end`` whatever its frame count.

    Raises:
        ValueError: if the folder holds no frame images.
    """
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise ValueError(f"frame folder {folder} holds no {'/'.join(FRAME_SUFFIXES)} files")
    if len(files) == num_segments and bound is None:
        chosen: Sequence[Path] = files
    else:
        indices = segment_frame_indices(num_segments, len(files), fps, bound, first_index=1)
        chosen = [files[min(max(index, 1), len(files)) - 1] for index in indices]
    return [path.read_bytes() for path in chosen]
