"""The README's main job, `verl-pixel quickstart`: SFT on the look-or-not task, verl's export, GRPO from it.

This is also the CI run of the experiment's pipeline (the stages ``benchmarks/adaptive_learning.py`` runs, at two
GRPO steps): SFT export -> GRPO from it -> evaluation on the held-out test split, split by need.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import torch
from safetensors.torch import load_file

from verl_pixel.eval.adaptive_report import eval_points
from verl_pixel.quickstart.pipeline import GRPO_COLUMNS, quickstart_config


def _steps(path):
    """Every logged step's metrics, read straight from verl's file logger (JSON lines)."""
    return [json.loads(line)["data"] for line in path.read_text().splitlines() if line.strip()]


def _logged(path, key):
    """``key`` per logged step (steps without it left out)."""
    return [step[key] for step in _steps(path) if key in step]


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def _max_change(before: dict, after: dict) -> dict:
    assert before.keys() == after.keys()
    return {name: float((after[name].float() - before[name].float()).abs().max()) for name in before}


@pytest.mark.slow
def test_quickstart_trains_sft_then_grpo_from_its_export_and_reports_tool_use_by_need(tmp_path):
    proc = subprocess.run(
        ["verl-pixel", "quickstart", "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=1500
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert out.startswith(f"verl-pixel quick start — OK (outputs under {tmp_path})")
    config = quickstart_config()
    sft_steps, grpo = config.sft.steps, config.grpo
    # SFT: verl's logged train/loss, step by step, and the export verl wrote.
    sft_losses = _logged(tmp_path / "sft" / "sft_metrics.jsonl", "train/loss")
    sft_rows = re.findall(r"^\s+(\d+)\s+(\d+\.\d{4})$", out, flags=re.M)
    assert sft_rows == [(str(i + 1), f"{loss:.4f}") for i, loss in enumerate(sft_losses)] and len(sft_rows) == sft_steps
    export = tmp_path / "sft" / "checkpoints" / f"global_step_{sft_steps}" / "huggingface"
    assert f"exported by verl (checkpoint.save_contents hf_model): {export}" in out
    # GRPO from the export, no forced calls; its table is verl's logged metrics, column by column.
    assert (
        "GRPO verl.trainer.main_ppo from the SFT export, pixel_agent + pixel reward (Look Less), hf rollout: exit 0"
        in out
    )
    assert "tool calls are the model's own choice (no forced calls)" in out
    metrics = tmp_path / "grpo" / "look_less" / "grpo_metrics.jsonl"
    row_pattern = re.compile(r"^\s+[12](\s+\S+){" + str(len(GRPO_COLUMNS)) + "}$")
    grpo_rows = [line.split() for line in out.splitlines() if row_pattern.match(line)]
    # A metric a step did not log (need(x) when no group had obeying probes of both modes) reads "nan".
    train_steps = [step for step in _steps(metrics) if "critic/score/mean" in step]
    expected = [[f"{step.get(key, float('nan')):.4g}" for key, _ in GRPO_COLUMNS] for step in train_steps]
    assert [row[1:] for row in grpo_rows] == expected and len(expected) == grpo.steps, out
    # By construction: 2 prompts x n=4 rollouts (adaptive 2, force_tool 1, no_tool 1) per step, probes in every group.
    assert _logged(metrics, "pixel/rollouts") == [8.0, 8.0]
    assert all("pixel/compliance/force_tool" in step and "pixel/compliance/no_tool" in step for step in train_steps)
    # The test split, split by need, before the first step (the SFT export) and after the last: verl's values.
    points = eval_points(metrics)
    assert [p.step for p in points] == [0, grpo.steps]
    table = re.findall(r"^\s+(\d+)\s+(\d\.\d{3})\s+(\d\.\d{3})\s+(\d\.\d{3})\s+(\d\.\d{3})$", out, flags=re.M)
    assert table == [
        (str(p.step), *(f"{v:.3f}" for v in (p.tur["need"], p.tur["no_need"], p.accuracy["need"],
                                             p.accuracy["no_need"])))
        for p in points
    ]  # fmt: skip
    # GRPO started from the SFT export: after two Adam steps of lr 1e-4 every weight is within 2 * lr * 3.2 of the
    # export (Adam's step is at most ~lr * (1 - beta1) / sqrt(1 - beta2) per coordinate), while the export itself
    # is far from the base model it was trained from (its first Adam step alone moved weights by lr = 2e-3).
    base, sft = _weights(tmp_path / "model"), _weights(export)
    after = _weights(
        tmp_path / "grpo" / "look_less" / "checkpoints" / f"global_step_{grpo.steps}" / "actor" / "huggingface"
    )
    bound = grpo.steps * grpo.lr * 3.2
    grpo_moves, sft_moves = _max_change(sft, after), _max_change(base, sft)
    assert max(grpo_moves.values()) <= bound, max(grpo_moves.items(), key=lambda kv: kv[1])
    assert sum(change > bound for change in sft_moves.values()) > 0.9 * len(sft_moves)
    assert any(change > 0 for change in grpo_moves.values())  # and it trained
    assert all(t.dtype == torch.float32 for t in after.values())
    assert "benchmarks/results/adaptive_learning.md" in out and "recipes/" in out
