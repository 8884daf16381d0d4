"""The README's main job, `verl-pixel quickstart`, runs the whole CPU pipeline and reports what the trainers logged."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from verl_pixel.quickstart.pipeline import GRPO_COLUMNS


def _logged(path, key):
    """``key`` per logged step, read straight from verl's file logger (JSON lines)."""
    steps = [json.loads(line)["data"] for line in path.read_text().splitlines() if line.strip()]
    return [step[key] for step in steps if key in step]


@pytest.mark.slow
def test_quickstart_command_runs_pipeline_and_prints_report(tmp_path):
    proc = subprocess.run(
        ["verl-pixel", "quickstart", "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=1500
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert out.startswith(f"verl-pixel quick start — OK (outputs under {tmp_path})")
    assert "SFT  verl.trainer.sft_trainer, PixelSFTDataset, FSDP2/gloo: exit 0" in out
    assert "GRPO verl.trainer.main_ppo, pixel_agent + pixel reward (Look Less), hf rollout: exit 0" in out
    # No test hook: the report says the tool calls are the model's own (the shipped config forces none).
    assert "tool calls are the model's own choice (no forced calls)" in out
    # The SFT table is verl's logged train/loss, step by step.
    sft_losses = _logged(tmp_path / "sft" / "sft_metrics.jsonl", "train/loss")
    sft_rows = re.findall(r"^\s+(\d)\s+(\d+\.\d{4})$", out, flags=re.M)
    assert sft_rows == [(str(i + 1), f"{loss:.4f}") for i, loss in enumerate(sft_losses)] and len(sft_rows) == 3
    # The GRPO table is verl's logged metrics, column by column, for both steps.
    row_pattern = re.compile(r"^\s+[12](\s+\S+){" + str(len(GRPO_COLUMNS)) + "}$")
    grpo_rows = [line.split() for line in out.splitlines() if row_pattern.match(line)]
    metrics = tmp_path / "grpo" / "grpo_metrics.jsonl"
    expected = [[f"{value:.4g}" for value in _logged(metrics, key)] for key, _ in GRPO_COLUMNS]
    assert [row[1:] for row in grpo_rows] == [list(step) for step in zip(*expected, strict=True)], out
    # By construction: 2 prompts x n=4 rollouts (adaptive 2, force_tool 1, no_tool 1) per step.
    assert _logged(metrics, "pixel/rollouts") == [8.0, 8.0]
    assert (tmp_path / "sft" / "checkpoints" / "global_step_3").is_dir()
    assert "recipes/" in out


def test_quickstart_family_reaches_both_trainers_and_the_report(tmp_path, monkeypatch, capsys):
    # The trainer runs themselves are tested per family in tests/data/test_sft_trainer_cpu.py and
    # tests/backends/test_main_ppo_cpu.py; here: `--family` selects the tiny model of both stages.
    import verl_pixel.quickstart.pipeline as pipeline
    from verl_pixel.cli import main
    from verl_pixel.model_family import ModelFamily
    from verl_pixel.quickstart.grpo_cpu import GRPOSmokeResult
    from verl_pixel.quickstart.sft import SFTSmokeResult

    seen = []
    log = tmp_path / "log"

    def sft(work, **kw):
        seen.append(("sft", kw["family"]))
        return SFTSmokeResult(0, [1.5], [1.4], tmp_path, log, log)

    def grpo(work, **kw):
        seen.append(("grpo", kw["family"]))
        return GRPOSmokeResult(0, [{"critic/score/mean": 0.5}], log, log)

    monkeypatch.setattr(pipeline, "run_sft_smoke", sft)
    monkeypatch.setattr(pipeline, "run_grpo_smoke", grpo)
    assert main(["quickstart", "--family", "qwen3_vl", "--workdir", str(tmp_path)]) == 0
    assert seen == [("sft", ModelFamily.QWEN3_VL), ("grpo", ModelFamily.QWEN3_VL)]
    assert "model family qwen3_vl: tiny Qwen3VLProcessor kit" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse refuses an unknown family before anything runs
        main(["quickstart", "--family", "qwen4", "--workdir", str(tmp_path)])
    assert len(seen) == 2
