"""Samples to verl parquet rows: layout, validation, and a round trip through verl's own RL dataset."""

from __future__ import annotations

import pandas as pd
import pytest
from omegaconf import OmegaConf

from verl_pixel.data.rl_dataset import PixelRLDataset
from verl_pixel.eval.benchmarks import LoadOptions
from verl_pixel.eval.preprocess import PreprocessConfig, preprocess_benchmark
from verl_pixel.eval.samples import EvalRowConfig, EvalSample, ImageInput, PreprocessError, eval_row, eval_rows
from verl_pixel.reward.scoring.ground_truth import parse_ground_truth


def _mc(**overrides) -> EvalSample:
    fields = dict(
        benchmark="vstar",
        sample_id="a/1",
        question="What color?",
        answer_type="multiple_choice",
        answers=("B",),
        options=("red", "blue"),
        images=(ImageInput(data=b"png"),),
        category="a",
    )
    return EvalSample(**{**fields, **overrides})


def test_row_layout():
    row = eval_row(_mc(), 7)
    assert row["data_source"] == "vstar" and row["agent_name"] == "pixel_agent"
    content = row["prompt"][0]["content"]
    assert content.startswith("<image>What color?\nOptions:\n(A) red\n(B) blue") and "\\boxed{}" in content
    assert row["images"] == [{"bytes": b"png"}]
    assert row["reward_model"] == {
        "style": "rule",
        "ground_truth": {"answer": "B", "answers": ["B"], "answer_type": "multiple_choice", "options": ["red", "blue"]},
    }
    assert row["extra_info"] == {
        "index": 7,
        "split": "test",
        "sample_id": "a/1",
        "benchmark": "vstar",
        "question": "What color?",
        "answer": "B",
        "answer_type": "multiple_choice",
        "category": "a",
        "num_video_frames": 0,
    }
    # A video question: its frames as one video carrying the frame budget (no image, no frame images) ...
    frames = _mc(images=(ImageInput(path="/x/f1.jpg", max_pixels=1000),) * 2, num_video_frames=2)
    video_row = eval_row(frames, 0)
    assert video_row["images"] == [] and video_row["extra_info"]["num_video_frames"] == 0
    assert video_row["videos"] == [{"video": [{"image": "/x/f1.jpg"}] * 2, "max_pixels": 1000}]
    assert video_row["prompt"][0]["content"].startswith("<video>What color?")
    # ... or, in the frames layout, as images the row says are the video's frames.
    frames_row = eval_row(frames, 0, EvalRowConfig(video_layout="frames"))
    assert frames_row["images"] == [{"image": "/x/f1.jpg", "max_pixels": 1000}] * 2 and frames_row["videos"] == []
    assert frames_row["prompt"][0]["content"].startswith("<image><image>What color?")
    assert frames_row["extra_info"]["num_video_frames"] == 2
    # A per-category data source, for verl's validation metrics per category (only where there is one).
    assert eval_row(_mc(), 0, EvalRowConfig(source_per_category=True))["data_source"] == "vstar/a"
    assert eval_row(_mc(category=""), 0, EvalRowConfig(source_per_category=True))["data_source"] == "vstar"


def test_sample_validation():
    with pytest.raises(ValueError, match="no image"):
        _mc(images=())
    with pytest.raises(ValueError, match=r"correct option 2 out of range|neither an option letter"):
        _mc(answers=("C",))
    with pytest.raises(ValueError, match="not a single number"):
        _mc(answer_type="number", answers=("many",), options=())
    with pytest.raises(ValueError, match="exactly one of data and path"):
        ImageInput()
    with pytest.raises(PreprocessError, match="duplicate sample id 'a/1'"):
        eval_rows([_mc(), _mc()])


def test_preprocess_round_trips_through_pixel_rl_dataset(tmp_path, bench, tiny_tokenizer, tiny_processor):
    out = preprocess_benchmark("vstar", bench.vstar(tmp_path / "vstar"), tmp_path / "out" / "vstar.parquet")
    assert (out.rows, out.benchmark) == (3, "vstar")
    config = OmegaConf.create({"filter_overlong_prompts": False, "return_raw_chat": True})
    dataset = PixelRLDataset(str(out.path), tiny_tokenizer, config, processor=tiny_processor)
    row = dataset[2]
    assert row["data_source"] == "vstar" and row["agent_name"] == "pixel_agent"
    assert row["raw_prompt"][0]["content"][0]["type"] == "image"
    truth = parse_ground_truth(row["reward_model"]["ground_truth"])
    assert truth.options[truth.correct_option] == "left"
    assert row["extra_info"]["sample_id"] == "relative_position/sa_3"


def test_preprocess_embedding_and_limit(tmp_path, bench):
    root = bench.tallyqa(tmp_path / "tally")
    paths = preprocess_benchmark(
        "tallyqa", root, tmp_path / "paths.parquet", PreprocessConfig(embed_images=False, limit=1)
    )
    frame = pd.read_parquet(paths.path)
    assert len(frame) == 1 and frame.iloc[0]["images"][0]["image"].endswith("VG_100K/1.jpg")
    embedded = pd.read_parquet(preprocess_benchmark("tallyqa", root, tmp_path / "bytes.parquet").path)
    assert embedded.iloc[0]["images"][0]["bytes"][:2] == b"\xff\xd8"  # the JPEG file itself
    with pytest.raises(ValueError, match="limit must be >= 1"):
        PreprocessConfig(limit=0)
    mv = preprocess_benchmark(
        "mvbench",
        bench.mvbench(tmp_path / "mv"),
        tmp_path / "mv.parquet",
        PreprocessConfig(load=LoadOptions(mvbench_tasks=("object_existence",))),
    )
    row = pd.read_parquet(mv.path).iloc[0]
    assert len(row["images"]) == 0 and len(row["videos"][0]["video"]) == 16
    assert row["videos"][0]["max_pixels"] == 512 * 28 * 28 and row["extra_info"]["num_video_frames"] == 0
    assert row["prompt"][0]["content"].startswith("<video>Is there a cube?")
