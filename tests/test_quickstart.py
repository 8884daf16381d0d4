"""The README's main job, `verl-pixel quickstart`, runs the whole CPU pipeline and reports it."""

from __future__ import annotations

import re
import subprocess

import pytest


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
    # Metrics tables: 3 SFT losses, 2 GRPO rows of 6 finite numbers each.
    assert len(re.findall(r"^\s+[123]\s+\d+\.\d{4}$", out, flags=re.M)) == 3
    grpo_rows = re.findall(r"^\s+[12](\s+-?[\d.e+-]+){6}$", out, flags=re.M)
    assert len(grpo_rows) == 2, out
    assert (tmp_path / "sft" / "checkpoints" / "global_step_3").is_dir()
    assert (tmp_path / "grpo" / "grpo_metrics.jsonl").is_file()
    assert "recipes/" in out
