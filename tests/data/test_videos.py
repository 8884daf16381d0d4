"""The one video decoder: qwen_vl_utils' sampling and sizing rules with PyAV, and its named errors.

Expected values are worked by hand from qwen_vl_utils 0.0.14 (``vision_process.py``), the code verl's own video
path runs (it cannot be imported here: it imports torchvision). Parity with it was also checked once against the
real ``fetch_video`` on a python-only torchvision (see the h-video report): equal shapes, indices and metadata.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from verl_pixel.data.video_sampling import VideoSampling, frame_range, list_frame_size, smart_nframes, video_frame_size
from verl_pixel.data.videos import VideoDecodeError, decode_video_frames, load_video, probe_video_file
from verl_pixel.testing.videos import frame_numbers, write_grey_video, write_undecodable_video


@pytest.fixture(scope="module")
def video_40(tmp_path_factory):
    """40 frames at 10 fps, 64x48, frame i grey 6 i."""
    return write_grey_video(tmp_path_factory.mktemp("videos") / "v40.mp4")


def test_frame_count_rules_of_smart_nframes():
    # nframes rounds to an even count; fps samples total / video_fps * fps within [min_frames, max_frames], even.
    assert smart_nframes(VideoSampling(nframes=15), 40, 10.0) == 16  # round(15 / 2) * 2 (half to even: 7.5 -> 8)
    assert smart_nframes(VideoSampling(), 40, 10.0) == 8  # 4 s at the default 2 fps
    assert smart_nframes(VideoSampling(), 6, 10.0) == 4  # 1.2 frames, raised to min_frames 4
    assert smart_nframes(VideoSampling(fps=30.0), 41, 10.0) == 40  # capped by the (even) frame count
    with pytest.raises(ValueError, match=r"nframes should in interval \[2, 40\], but got 64"):
        smart_nframes(VideoSampling(nframes=64), 40, 10.0)
    # The clip [0.5 s, 3.2 s] of a 10 fps file: frames ceil(5) .. floor(32).
    assert frame_range(VideoSampling(video_start=0.5, video_end=3.2), 40, 10.0) == (5, 32, 28)
    with pytest.raises(ValueError, match="start frame 30 is not before end frame 20"):
        frame_range(VideoSampling(video_start=3.0, video_end=2.0), 40, 10.0)


def test_frame_size_rules():
    # A file's 64x48 frames: 56x56 after rounding is below the 128-token minimum (100352 px), so scaled by
    # sqrt(100352 / 3072) = 5.7155 and rounded up: 48 -> 280, 64 -> 392.
    assert video_frame_size(48, 64, 16, VideoSampling(), 14) == (280, 392)
    # A list's 640x480 frames go through fetch_image at factor 56 first (qwen_vl_utils passes the factor as the
    # patch size): 480 -> 504, 640 -> 616; with Pixel Reasoner's SFT budget 420*360 = 151200: scaled by
    # sqrt(307200 / 151200) = 1.4254 and floored to 56: 336 x 448, which the video budget then keeps.
    assert list_frame_size(480, 640, VideoSampling(), 14) == (504, 616)
    assert list_frame_size(480, 640, VideoSampling(max_pixels=151200), 14) == (336, 448)
    assert video_frame_size(336, 448, 14, VideoSampling(max_pixels=151200), 14) == (336, 448)
    # total_pixels shares the budget: 4 frames of 313600 px -> at most 156800 px each (x2 for the temporal pair).
    assert video_frame_size(504, 616, 4, VideoSampling(total_pixels=313600), 14) == (336, 420)
    with pytest.raises(ValueError, match="'nframes' must be a number >= 0"):
        VideoSampling.from_item({"nframes": "16"})


def test_video_file_is_sampled_like_qwen_vl_utils(video_40):
    frames, metadata = load_video({"video": str(video_40), "nframes": 16})
    # torch.linspace(0, 39, 16).round(): steps of 2.6.
    indices = [0, 3, 5, 8, 10, 13, 16, 18, 21, 23, 26, 29, 31, 34, 36, 39]
    assert metadata == {"fps": 10.0, "frames_indices": indices, "total_num_frames": 40, "video_backend": "pyav"}
    assert tuple(frames.shape) == (16, 3, 280, 392) and str(frames.dtype) == "torch.float32"
    assert frame_numbers(frames) == indices  # the frames decoded are those indices
    # Default: 2 fps over 4 s = 8 frames, linspace(0, 39, 8) in steps of 5.571; a file:// URL reads the same file.
    frames, metadata = load_video({"video": f"file://{video_40}"})
    assert metadata["frames_indices"] == [0, 6, 11, 17, 22, 28, 33, 39] == frame_numbers(frames)
    # A clip: frames 5..32 (28 frames, the metadata's total), 8 of them in steps of 27 / 7.
    frames, metadata = load_video({"video": str(video_40), "video_start": 0.5, "video_end": 3.2, "nframes": 8})
    assert metadata["frames_indices"] == [5, 9, 13, 17, 20, 24, 28, 32] == frame_numbers(frames)
    assert metadata["total_num_frames"] == 28
    assert probe_video_file(video_40) == (40, 10.0)


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_frame_list_is_used_whole_and_padded_to_even():
    refs = [{"bytes": _png(np.full((480, 640, 3), 6 * i, dtype=np.uint8))} for i in range(15)]
    frames, metadata = load_video({"video": refs, "max_pixels": 151200})
    # 15 frames + the last repeated; qwen_vl_utils' fake metadata for a list: 2 fps, total = 16 / 2 * 2.
    assert metadata == {"fps": 2.0, "frames_indices": [*range(16)], "total_num_frames": 16.0, "video_backend": "pyav"}
    assert tuple(frames.shape) == (16, 3, 336, 448)
    assert frame_numbers(frames) == [*range(15), 14]
    assert frames[3].unique().tolist() == [18.0]  # a flat frame stays exact through the bicubic resize


def test_bad_videos_are_named(tmp_path, video_40):
    with pytest.raises(VideoDecodeError, match=r"video file not found: .*missing.mp4"):
        load_video({"video": str(tmp_path / "missing.mp4")})
    (tmp_path / "corrupt.mp4").write_bytes(b"not a video at all")
    with pytest.raises(VideoDecodeError, match=r"cannot decode video .*corrupt.mp4"):
        load_video({"video": str(tmp_path / "corrupt.mp4")})
    with pytest.raises(VideoDecodeError, match=r"cannot decode video .*zeros.mp4: no decodable frame"):
        load_video({"video": str(write_undecodable_video(tmp_path / "zeros.mp4"))})
    with pytest.raises(VideoDecodeError, match=r"remote video .* is not fetched"):
        load_video({"video": "https://example.com/v.mp4"})
    with pytest.raises(VideoDecodeError, match=r"video .*v40.mp4.*: nframes should in interval \[2, 40\]"):
        load_video({"video": str(video_40), "nframes": 64})
    with pytest.raises(VideoDecodeError, match="frame 1: image file not found"):
        load_video({"video": [{"bytes": _png(np.zeros((8, 8, 3), np.uint8))}, str(tmp_path / "nope.png")]})
    sizes = [{"bytes": _png(np.zeros((48, 64, 3), np.uint8))}, {"bytes": _png(np.zeros((480, 640, 3), np.uint8))}]
    with pytest.raises(VideoDecodeError, match="must have one size"):
        load_video({"video": sizes})
    for entry in ({"video": []}, {"frames": ["a.png"]}, 3):
        with pytest.raises(VideoDecodeError, match="expected"):
            load_video(entry)


def test_decode_frames_of_a_short_file_fall_back_to_its_last_frame(tmp_path):
    video = write_grey_video(tmp_path / "short.mp4", frames=10)
    frames = decode_video_frames(video, [2, 9, 12])  # frame 12 does not exist
    assert frame_numbers(frames) == [2, 9, 9]
