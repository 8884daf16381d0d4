"""``verl-pixel eval preprocess`` and ``verl-overrides`` through the argparse wiring the main CLI uses."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from verl_pixel.eval.cli import add_parser, ops_config_from_yaml
from verl_pixel.eval.verl_native import PIXEL_TOOLS_YAML
from verl_pixel.ops import VisualOpsConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verl-pixel")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def _cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


def test_preprocess_command(tmp_path, bench, capsys):
    root = bench.hrbench(tmp_path / "hr", "hr_bench_8k.parquet")
    out = tmp_path / "hr8k.parquet"
    assert _cli(["eval", "preprocess", "hrbench8k", str(root), "-o", str(out), "--limit", "2"]) == 0
    assert f"hrbench8k: 2 rows -> {out}" in capsys.readouterr().out
    assert list(pd.read_parquet(out)["data_source"]) == ["hrbench8k", "hrbench8k"]
    with pytest.raises(SystemExit):
        _parser().parse_args(["eval", "preprocess", "mmmu", str(root), "-o", str(out)])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        _parser().parse_args(["eval", "preprocess", "--help"])
    help_text = capsys.readouterr().out
    assert "hr_bench_4k.parquet" in help_text and "test.json" in help_text  # layouts in --help


def test_verl_overrides_command(tmp_path, capsys):
    file = tmp_path / "a.parquet"
    assert _cli(["eval", "verl-overrides", "--model", "Qwen/X", str(file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "trainer.val_only=True" in lines and "actor_rollout_ref.model.path=Qwen/X" in lines
    assert f"data.val_files=[{file.resolve()}]" in lines


def test_ops_config_from_the_tool_yaml():
    assert ops_config_from_yaml(str(PIXEL_TOOLS_YAML), {}) == VisualOpsConfig()
    config = ops_config_from_yaml(None, {"image_max_pixels": 1003520, "coordinates": None})
    assert config.image_max_pixels == 1003520 and config.coordinates.value == "auto"
