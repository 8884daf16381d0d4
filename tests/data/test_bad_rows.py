"""Bad data rows are named (file, row, field) before training starts, and dropped or refused by policy.

Each case is one of the reliability probe's (§1, §2): before, corrupt and decompression-bomb SFT images passed the
load and stopped the dataloader mid-epoch, RL rows with bad images were dropped by verl's length filter with an
unnamed traceback, invalid UTF-8 failed in pyarrow with no row, and with several files "row N" did not say which.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf
from PIL import Image

from verl_pixel.data.parquet_io import normalize_sft_row, write_rl_parquet, write_sft_parquet
from verl_pixel.data.rl_dataset import PixelRLDataset
from verl_pixel.data.row_checks import BadRowsError
from verl_pixel.data.sft_dataset import PixelSFTDataset


def _encoded(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` grey pixels (no pixel data): what a decompression bomb shows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


BAD_IMAGES = {
    "truncated png": (_encoded("PNG")[:400], "cannot decode image bytes"),
    "truncated jpeg": (_encoded("JPEG")[:600], "cannot decode image bytes"),
    "garbage": (b"not an image at all", "cannot decode image bytes: cannot identify image file"),
    "bomb over PIL's hard limit": (_png_header(20000, 20000), "exceeds limit of 178956970 pixels"),
    "bomb over the warning limit": (_png_header(12000, 12000), "over the 89478485-pixel limit"),
}


def _sft_row(answer: str, image: bytes) -> dict:
    return {
        "messages": [{"role": "user", "content": "<image>How many?"}, {"role": "assistant", "content": answer}],
        "images": [{"bytes": image}],
        "videos": [],
    }


def _sft(paths: list[Path] | Path, processor, **config) -> PixelSFTDataset:
    options = {"max_length": 16384, "pad_mode": "no_padding", **config}
    files = [str(p) for p in paths] if isinstance(paths, list) else str(paths)
    return PixelSFTDataset(files, processor.tokenizer, OmegaConf.create(options), processor=processor)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_sft_load_refuses_undecodable_images_naming_file_row_and_field(case, tiny_processor, tmp_path):
    data, reason = BAD_IMAGES[case]
    rows = [_sft_row("\\boxed{1}", _encoded()), _sft_row("\\boxed{2}", data), _sft_row("\\boxed{3}", _encoded())]
    path = write_sft_parquet(rows, tmp_path / "sft.parquet")
    with pytest.raises(BadRowsError) as info:
        _sft(path, tiny_processor)
    message = str(info.value)
    assert message.startswith("1 bad rows (set data.bad_rows=skip to train without them;")
    assert f"\n  {path}: row 1: field 'images[0]': " in message and reason in message


def test_sft_skip_policy_drops_bad_rows_with_a_logged_count(tiny_processor, tmp_path, caplog):
    rows = [_sft_row("\\boxed{1}", _encoded()), _sft_row("\\boxed{2}", b"garbage"), _sft_row("\\boxed{3}", _encoded())]
    path = write_sft_parquet(rows, tmp_path / "sft.parquet")
    with caplog.at_level(logging.WARNING, logger="verl_pixel.data.row_checks"):
        dataset = _sft(path, tiny_processor, bad_rows="skip")
    assert len(dataset) == 2
    texts = [tiny_processor.tokenizer.decode(dataset[i]["input_ids"]) for i in range(2)]
    assert "\\boxed{1}" in texts[0] and "\\boxed{3}" in texts[1]
    assert f"1 bad rows skipped, in 1 file(s) of 3 rows:\n  {path}: row 1: field 'images[0]'" in caplog.text
    with pytest.raises(ValueError, match=r"data\.bad_rows: 'drop' is not one of error, skip"):
        _sft(path, tiny_processor, bad_rows="drop")


def test_sft_max_samples_counts_good_rows(tiny_processor, tmp_path):
    rows = [_sft_row("\\boxed{0}", b"garbage")] + [_sft_row(f"\\boxed{{{i}}}", _encoded()) for i in (1, 2, 3)]
    dataset = _sft(write_sft_parquet(rows, tmp_path / "sft.parquet"), tiny_processor, bad_rows="skip")
    limited = PixelSFTDataset(
        str(tmp_path / "sft.parquet"),
        tiny_processor.tokenizer,
        OmegaConf.create({"max_length": 16384, "pad_mode": "no_padding", "bad_rows": "skip"}),
        processor=tiny_processor,
        max_samples=2,
    )
    assert len(dataset) == 3 and len(limited) == 2  # verl's rule (the first rows, no shuffle), over good rows
    assert "\\boxed{1}" in tiny_processor.tokenizer.decode(limited[0]["input_ids"])


def test_a_bad_row_of_the_second_file_is_named_with_that_file(tiny_processor, tmp_path):
    first = write_sft_parquet([_sft_row("\\boxed{1}", _encoded())] * 2, tmp_path / "a.parquet")
    bad = _sft_row("\\boxed{2}", _encoded())
    bad["messages"][0]["content"] = "<image><image>How many?"
    second = write_sft_parquet([_sft_row("\\boxed{2}", _encoded()), bad], tmp_path / "b.parquet")
    with pytest.raises(BadRowsError) as info:
        _sft([first, second], tiny_processor)
    assert f"\n  {second}: row 1: field 'images': 2 <image> placeholders but 1 images" in str(info.value)
    assert "of 4 rows" in str(info.value)


def _with_invalid_utf8(path: Path) -> Path:
    """An SFT file whose row 1 holds bytes that are not UTF-8 in a text field (written uncompressed, then patched)."""
    rows = [_sft_row(text, _encoded()) for text in ("\\boxed{1}", "MARKER_TEXT_", "\\boxed{3}")]
    table = pa.Table.from_pandas(pd.DataFrame([normalize_sft_row(row) for row in rows]))
    pq.write_table(table, path, compression="NONE", use_dictionary=False, write_statistics=False)
    data = path.read_bytes()
    assert data.count(b"MARKER_TEXT_") == 1
    path.write_bytes(data.replace(b"MARKER_TEXT_", b"\xff\xfe\\boxed{2}\xff"))
    return path


def test_invalid_utf8_names_file_row_and_column(tiny_processor, tmp_path):
    path = _with_invalid_utf8(tmp_path / "sft.parquet")
    for policy in ("error", "skip"):  # verl's own reader cannot read this file at all: always refused
        with pytest.raises(BadRowsError) as info:
            _sft(path, tiny_processor, bad_rows=policy)
        assert str(info.value).startswith("1 unreadable rows (verl cannot read these files; rewrite them)")
        assert f"\n  {path}: row 1: field 'messages': cannot be decoded ('utf-8' codec" in str(info.value)


def _rl_row(index: int, image: dict) -> dict:
    truth = {"answer": "3", "answer_type": "number"}
    return {
        "data_source": "probe",
        "prompt": [{"role": "user", "content": "<image>How many?"}],
        "images": [image],
        "reward_model": {"style": "rule", "ground_truth": truth},
        "agent_name": "pixel_agent",
        "extra_info": {"index": index},
    }


def _rl_rows() -> list[dict]:
    images = [
        {"bytes": _encoded(), "image": None},
        {"bytes": None, "image": "/nonexistent/x.png"},
        {"bytes": _encoded()[:400], "image": None},
        {"bytes": b"garbage", "image": None},
        {"bytes": _encoded(), "image": None},
    ]
    return [_rl_row(index, image) for index, image in enumerate(images)]


def _rl(path: Path, tokenizer, processor, **config) -> PixelRLDataset:
    # verl's defaults: filter_overlong_prompts on, which used to drop the bad rows with an unnamed traceback
    options = {"return_raw_chat": True, "max_prompt_length": 4096, "filter_overlong_prompts_workers": 1, **config}
    return PixelRLDataset(str(path), tokenizer, OmegaConf.create(options), processor=processor)


def test_rl_rows_with_bad_images_are_named_not_silently_dropped(tiny_tokenizer, tiny_processor, tmp_path):
    path = write_rl_parquet(_rl_rows(), tmp_path / "rl.parquet")
    with pytest.raises(BadRowsError) as info:
        _rl(path, tiny_tokenizer, tiny_processor)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("3 bad rows (set data.bad_rows=skip")
    assert lines[1] == f"  {path}: row 1: field 'images[0]': image file not found: /nonexistent/x.png"
    assert lines[2].startswith(f"  {path}: row 2: field 'images[0]': cannot decode image bytes")
    assert lines[3].startswith(f"  {path}: row 3: field 'images[0]': cannot decode image bytes: cannot identify")
    dataset = _rl(path, tiny_tokenizer, tiny_processor, bad_rows="skip")
    assert [dataset[i]["extra_info"]["index"] for i in range(len(dataset))] == [0, 4]


def test_rl_rows_with_unreadable_ground_truth_are_named(tiny_tokenizer, tiny_processor, tmp_path):
    truths = ['{"answer": "3", "answer_type": "number"}', '{"answer": "3", "answer_type": ']  # JSON text, cut short
    rows = [{**_rl_rows()[0], "reward_model": {"style": "rule", "ground_truth": truth}} for truth in truths]
    path = write_rl_parquet(rows, tmp_path / "rl.parquet")
    with pytest.raises(BadRowsError, match=r"row 1: field 'reward_model.ground_truth': ground truth: a string must"):
        _rl(path, tiny_tokenizer, tiny_processor)


def _rl_video_row(index: int, video: str, content: str = "<video>Which digit?") -> dict:
    return {
        "data_source": "probe",
        "prompt": [{"role": "user", "content": content}],
        "images": [],
        "videos": [{"video": video, "nframes": 4, "min_pixels": 3136, "max_pixels": 12544}],
        "reward_model": {"style": "rule", "ground_truth": {"answer": "3", "answer_type": "number"}},
        "agent_name": "pixel_agent",
        "extra_info": {"index": index},
    }


def test_rl_rows_with_bad_videos_are_named_and_skipped_with_a_count(tiny_tokenizer, tiny_processor, tmp_path, caplog):
    from verl_pixel.testing.videos import write_grey_video, write_undecodable_video

    good = str(write_grey_video(tmp_path / "good.mp4", frames=12))
    (tmp_path / "corrupt.mp4").write_bytes(b"not a video")
    rows = [
        _rl_video_row(0, good),
        _rl_video_row(1, str(tmp_path / "missing.mp4")),
        _rl_video_row(2, str(tmp_path / "corrupt.mp4")),
        _rl_video_row(3, str(write_undecodable_video(tmp_path / "zeros.mp4", frames=12))),
        _rl_video_row(4, good, content="Which digit?"),  # its text has no <video> for its video
        _rl_video_row(5, good),
    ]
    path = write_rl_parquet(rows, tmp_path / "rl.parquet")
    with pytest.raises(BadRowsError) as info:
        _rl(path, tiny_tokenizer, tiny_processor)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("4 bad rows (set data.bad_rows=skip")
    assert lines[1] == f"  {path}: row 1: field 'videos[0]': video file not found: {tmp_path / 'missing.mp4'}"
    assert lines[2].startswith(f"  {path}: row 2: field 'videos[0]': cannot decode video {tmp_path / 'corrupt.mp4'}")
    assert lines[3].startswith(f"  {path}: row 3: field 'videos[0]': cannot decode video {tmp_path / 'zeros.mp4'}: no")
    assert lines[4] == f"  {path}: row 4: field 'videos': 0 <video> placeholders but 1 videos"
    with caplog.at_level(logging.WARNING, logger="verl_pixel.data.row_checks"):
        dataset = _rl(path, tiny_tokenizer, tiny_processor, bad_rows="skip")
    assert [dataset[i]["extra_info"]["index"] for i in range(len(dataset))] == [0, 5]
    assert "4 bad rows skipped, in 1 file(s) of 6 rows" in caplog.text
    # The good rows' videos decode as the agent loop will decode them: 4 frames of 64x48 -> 56x56 at factor 56.
    video_item = dataset[0]["raw_prompt"][0]["content"][0]
    (frames, metadata), *_ = PixelRLDataset._process_multi_modal_info(dataset[0]["raw_prompt"], 14, {})[1]
    assert video_item["type"] == "video" and tuple(frames.shape) == (4, 3, 56, 56)
    assert metadata["frames_indices"] == [0, 4, 7, 11]  # linspace(0, 11, 4): 0, 3.67, 7.33, 11


def test_sft_rows_with_bad_videos_are_named(tiny_processor, tmp_path):
    (tmp_path / "corrupt.mp4").write_bytes(b"not a video")
    row = {
        "messages": [
            {"role": "user", "content": "<video>Which digit?"},
            {"role": "assistant", "content": "\\boxed{3}"},
        ],
        "images": [],
        "videos": [{"video": str(tmp_path / "corrupt.mp4")}],
    }
    path = write_sft_parquet([row], tmp_path / "sft.parquet")
    with pytest.raises(BadRowsError, match=rf"row 0: field 'videos\[0\]': cannot decode video {tmp_path}/corrupt.mp4"):
        _sft(path, tiny_processor)


@pytest.mark.timeout(120)
def test_video_rows_pass_verls_length_filter_in_forked_workers_after_openmp(tiny_tokenizer, tiny_processor, tmp_path):
    import torch

    from verl_pixel.testing.videos import write_grey_video

    # The parent has run a multi-threaded (OpenMP) torch kernel, as any process that already trained has; verl's
    # length filter then decodes and processes each row in a forked `datasets` worker, where such a kernel would
    # hang (libgomp is not fork-safe): the video decoder and the tiny video processor run none.
    torch.ones(1 << 22).mul_(2.0)
    video = str(write_grey_video(tmp_path / "v.mp4", frames=12, size=(128, 96)))
    rows = [_rl_video_row(index, video) for index in range(2)]
    dataset = _rl(write_rl_parquet(rows, tmp_path / "rl.parquet"), tiny_tokenizer, tiny_processor)
    assert len(dataset) == 2  # both kept: 4 frames of 128x96 -> 112x56 at factor 56, well under the prompt limit
