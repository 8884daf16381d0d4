"""Small video files for tests: frame ``i`` is a flat grey of level ``step * i``, so decoded frames are identifiable."""

from __future__ import annotations

import json
from pathlib import Path

GREY_STEP = 6  # grey level added per frame: neighbours differ by 6, MPEG-4 error on flat frames stays below 3


def write_grey_video(
    path: Path, frames: int = 40, fps: int = 10, size: tuple[int, int] = (64, 48), step: int = GREY_STEP
) -> Path:
    """An MPEG-4 file of ``frames`` frames at ``fps`` whose frame ``i`` is grey ``step * i``."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 4_000_000
        for index in range(frames):
            array = np.full((size[1], size[0], 3), step * index, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_undecodable_video(path: Path, frames: int = 3) -> Path:
    """A well-formed MP4 whose frame data are zeros: it opens and lists its packets, but no frame decodes."""
    write_grey_video(path, frames=frames)
    data = bytearray(path.read_bytes())
    start = data.index(b"mdat") - 4  # the media-data box: 4-byte size, "mdat", payload
    size = int.from_bytes(data[start : start + 4], "big")
    data[start + 8 : start + size] = bytes(size - 8)
    path.write_bytes(bytes(data))
    return path


def frame_numbers(frames, step: int = GREY_STEP) -> list[int]:
    """Which frame of a :func:`write_grey_video` file each decoded frame is (``frames``: (T, 3, H, W) or images)."""
    import numpy as np

    return [round(float(np.asarray(frame, dtype=np.float64).mean()) / step) for frame in frames]


def write_mvbench_sample(root: Path, episodic_answer: str = "Penny") -> Path:
    """Two MVBench tasks in the published layout (``<root>/json``, ``<root>/video/<prefix>/...``), one item each.

    * ``object_existence``: ``clevrer/video_validation/video_1.mp4``, 40 frames of 64x48 at 10 fps (grey 6 i),
      options yes / no, answer "no";
    * ``episodic_reasoning``: the TVQA frame folder ``tvqa/frames_fps3_hq/s01e01_seg01_clip_00`` of 30 frames of
      32x24 at 3 fps (red 8 i, 1-based names), clip 2 s to 8 s, options Sheldon / Penny / Leonard.
    """
    from PIL import Image

    write_grey_video(root / "video" / "clevrer" / "video_validation" / "video_1.mp4")
    item = {"video": "video_1.mp4", "question": "Is there a cube?", "candidates": ["yes", "no"], "answer": "no"}
    _write_json(root / "json" / "object_existence.json", [item])
    tvqa = root / "video" / "tvqa" / "frames_fps3_hq" / "s01e01_seg01_clip_00"
    tvqa.mkdir(parents=True, exist_ok=True)
    for index in range(1, 31):  # 10 s at 3 fps, 1-based names as in MVBench
        Image.new("RGB", (32, 24), (8 * index, 0, 0)).save(tvqa / f"{index:05d}.jpg")
    item = {
        "video": "s01e01_seg01_clip_00", "question": "Who speaks first?", "candidates": ["Sheldon", "Penny", "Leonard"],
        "answer": episodic_answer, "start": 2.0, "end": 8.0,
    }  # fmt: skip
    _write_json(root / "json" / "episodic_reasoning.json", [item])
    return root


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
