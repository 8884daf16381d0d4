"""``verl-pixel eval preprocess`` and ``verl-overrides`` through the argparse wiring the main CLI uses."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from verl_pixel.configs import PIXEL_TOOLS_YAML
from verl_pixel.eval.cli import add_parser
from verl_pixel.eval.episode import EpisodeConfig
from verl_pixel.ops import VisualOpsConfig
from verl_pixel.tools.schema_yaml import ops_config, write_tools_yaml


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


def _episode_config_of(argv: list[str], monkeypatch) -> EpisodeConfig:
    """The EpisodeConfig ``eval run`` hands the runner (the runner itself is replaced)."""
    seen = {}

    def fake_run_eval(parquets, out, endpoint, episode, runner):
        seen["episode"] = episode
        return type("Summary", (), {"total": 0, "skipped": 0, "finished": 0, "failed": 0, "path": out})()

    monkeypatch.setattr("verl_pixel.eval.runner.run_eval", fake_run_eval)
    assert _cli(["eval", "run", "x.parquet", "-o", "o.jsonl", "--base-url", "http://h/v1", "--model", "m", *argv]) == 0
    return seen["episode"]


def test_eval_run_takes_its_budgets_from_the_tool_yaml(tmp_path, monkeypatch):
    # default: the packaged YAML, which is VisualOpsConfig's defaults (test_schema_yaml checks the file)
    assert _episode_config_of([], monkeypatch).ops == VisualOpsConfig()
    run_yaml = write_tools_yaml(tmp_path / "run" / "pixel_tools.yaml", ops_config(overrides={"max_images": 9}))
    episode = _episode_config_of(["--tool-config", str(run_yaml), "--max-turns", "3"], monkeypatch)
    assert episode.ops == VisualOpsConfig(max_images=9) and episode.max_turns == 3
    # no flag duplicates a YAML key
    for flag in ("--image-max-pixels", "--coordinates", "--output-style", "--max-images"):
        with pytest.raises(SystemExit):
            _parser().parse_args(["eval", "run", "x.parquet", "-o", "o", "--base-url", "u", "--model", "m", flag, "1"])


def test_eval_run_takes_the_familys_tool_yaml_and_system_prompt(monkeypatch):
    from verl_pixel.model_family import FamilyMismatchError, family_spec

    episode = _episode_config_of(["--family", "qwen3_vl"], monkeypatch)
    assert episode.ops == family_spec("qwen3_vl").ops_config()  # relative1000, factor 32, 32-px budgets
    assert episode.rollout.default_system_prompt == ""  # Qwen3-VL's template adds no system turn
    with pytest.raises(FamilyMismatchError, match=r"patch factor 32.* but the tool config has factor 28"):
        _episode_config_of(["--family", "qwen3_vl", "--tool-config", str(PIXEL_TOOLS_YAML)], monkeypatch)


def test_verl_overrides_follow_the_model_family(tiny_model_of, capsys):
    from verl_pixel.tools.schema_yaml import SHIPPED_YAML

    qwen3 = tiny_model_of("qwen3_vl")
    assert _cli(["eval", "verl-overrides", "--model", str(qwen3), "a.parquet"]) == 0  # family read from config.json
    lines = capsys.readouterr().out.splitlines()
    assert f"actor_rollout_ref.rollout.multi_turn.tool_config_path={SHIPPED_YAML['qwen3_vl']}" in lines
    assert "data.image_patch_size=16" in lines
    with pytest.raises(ValueError, match=r"qwen2_5_vl was requested but .* is qwen3_vl"):
        _cli(["eval", "verl-overrides", "--model", str(qwen3), "--family", "qwen2_5_vl", "a.parquet"])
