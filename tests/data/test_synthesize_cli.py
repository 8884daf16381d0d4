"""``verl-pixel synthesize`` / ``prepare`` through the argparse subparsers this package registers."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from verl_pixel.data.cli import add_parser


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="verl-pixel")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_synthesize_sample_writes_train_and_val_and_prints_shares(seed_sample_dir, tmp_path, capsys):
    code = _run(
        [
            "synthesize",
            "--seeds",
            "sample",
            "--sample-dir",
            str(seed_sample_dir),
            "--out",
            str(tmp_path / "train.parquet"),
            "--val-out",
            str(tmp_path / "val.parquet"),
            "--val-size",
            "2",
            "--input-max-pixels",
            str(64 * 28 * 28),
            "--crop-max-pixels",
            str(16 * 28 * 28),
            "--output-style",
            "pixel_reasoner",
            "--text-only",
            "0.1",
        ]
    )
    assert code == 0
    train, val = pd.read_parquet(tmp_path / "train.parquet"), pd.read_parquet(tmp_path / "val.parquet")
    assert len(train) == 28 and len(val) == 2
    out = capsys.readouterr().out
    assert "recrop_twice" in out and "text_only" in out and "10.0%" in out
    observations = [m for row in train["messages"] for m in row if m["tool_output"]]
    assert observations and all(m["role"] == "user" for m in observations)
    assert json.loads(train["tools"][0])[0]["function"]["name"] == "crop_image"


def test_prepare_rl_and_sample(seed_sample_dir, tmp_path):
    assert (
        _run(
            [
                "prepare",
                "rl",
                "--seeds",
                str(seed_sample_dir / "seeds.jsonl"),
                "--limit",
                "5",
                "--out",
                str(tmp_path / "rl.parquet"),
                "--no-embed-images",
            ]
        )
        == 0
    )
    rows = pd.read_parquet(tmp_path / "rl.parquet")
    assert list(rows["agent_name"].unique()) == ["pixel_agent"] and len(rows) == 5
    assert rows["reward_model"][0]["ground_truth"]["answer_type"] == "number"


def test_prepare_pixel_reasoner(media_dir, tmp_path):
    item = {
        "message_list": [
            {"role": "user", "content": [{"image": "img0.png"}, {"text": "Q?"}]},
            {"role": "assistant", "content": [{"text": "\\boxed{1}"}]},
        ]
    }
    source = tmp_path / "pr.json"
    source.write_text(json.dumps([item]))
    assert (
        _run(
            [
                "prepare",
                "pixel-reasoner",
                "--json",
                str(source),
                "--image-root",
                str(media_dir),
                "--out",
                str(tmp_path / "pr.parquet"),
            ]
        )
        == 0
    )
    # each image carries the RL recipes' budget (2000 tokens of 28 px), so SFT sees images as RL will
    assert pd.read_parquet(tmp_path / "pr.parquet")["images"][0][0] == {
        "path": str(media_dir / "img0.png"),
        "max_pixels": 2000 * 28 * 28,
    }
    out = tmp_path / "pr_budget.parquet"
    argv = ["prepare", "pixel-reasoner", "--json", str(source), "--image-root", str(media_dir), "--out", str(out)]
    assert _run([*argv, "--image-max-pixels", str(5120 * 28 * 28)]) == 0  # Pixel Reasoner's own SFT processor
    assert pd.read_parquet(out)["images"][0][0]["max_pixels"] == 5120 * 28 * 28


def _first_input_size(path) -> tuple[int, int]:
    import io

    from PIL import Image

    rows = pd.read_parquet(path)
    row = next(row for row in rows.itertuples() if len(row.images))
    return Image.open(io.BytesIO(row.images[0]["bytes"])).size


def test_synthesize_stores_inputs_at_the_rl_image_budget_unless_told(seed_sample_dir, tmp_path):
    argv = ["synthesize", "--seeds", "sample", "--sample-dir", str(seed_sample_dir), "--limit", "4"]
    assert _run([*argv, "--out", str(tmp_path / "default.parquet")]) == 0
    # 1600x1200 over the RL budget 1568000 = 2000*28*28: smart_resize by hand, beta = sqrt(1920000 / 1568000)
    # = 1.1066; sides floor(1600 / beta / 28) * 28 = 51 * 28 and floor(1200 / beta / 28) * 28 = 38 * 28.
    assert _first_input_size(tmp_path / "default.parquet") == (1428, 1064)
    assert _run([*argv, "--out", str(tmp_path / "kept.parquet"), "--input-max-pixels", "0"]) == 0
    assert _first_input_size(tmp_path / "kept.parquet") == (1600, 1200)  # the file as it is


def test_endpoint_writer_needs_url_and_model(seed_sample_dir, tmp_path):
    with pytest.raises(SystemExit, match="--endpoint-url"):
        _run(
            [
                "synthesize",
                "--seeds",
                "sample",
                "--sample-dir",
                str(seed_sample_dir),
                "--out",
                str(tmp_path / "x.parquet"),
                "--writer",
                "endpoint",
                "--limit",
                "2",
            ]
        )


def test_synthesize_for_qwen3_writes_relative1000_calls(seed_sample_dir, tmp_path):
    out = tmp_path / "q3.parquet"
    argv = ["synthesize", "--seeds", "sample", "--sample-dir", str(seed_sample_dir), "--out", str(out),
            "--family", "qwen3_vl", "--limit", "6", "--text-only", "0"]  # fmt: skip
    assert _run(argv) == 0
    rows = pd.read_parquet(out)
    assert "integers from 0 to 1000" in json.loads(rows["tools"][0])[0]["function"]["description"]
    boxes = [
        json.loads(call["function"]["arguments"])["bbox_2d"]
        for messages in rows["messages"]
        for message in messages
        for call in (message["tool_calls"] if message["tool_calls"] is not None else [])
        if call["function"]["name"] == "crop_image"
    ]
    # The seed sample's cues are small regions of 1600x1200 images: as 0..1000 integers, not fractions or pixels.
    assert boxes and all(all(float(v).is_integer() and 0 <= v <= 1000 for v in box) for box in boxes)
    assert any(max(box) > 1 for box in boxes)
