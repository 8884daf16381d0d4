"""The verl-native evaluation path: main_ppo with trainer.val_only=True, pixel_agent, the pixel reward, hf backend."""

from __future__ import annotations

import pytest

from verl_pixel.quickstart.grpo_cpu import run_grpo_smoke


@pytest.mark.slow
def test_val_only_reports_accuracy_and_tool_use_per_data_source(tmp_path):
    result = run_grpo_smoke(
        tmp_path, steps=1, extra_overrides=["trainer.val_only=True", "trainer.val_before_train=True"]
    )
    assert result.returncode == 0, result.log_file.read_text()[-4000:]
    (metrics,) = [step for step in result.steps if any(key.startswith("val-core/") for key in step)]
    source = "verl_pixel/seed_sample"
    assert 0.0 <= metrics[f"val-core/{source}/acc/mean@1"] <= 1.0
    # TUR = mean of pixel/used_tool over the validation responses (one per query, session 0: adaptive).
    tur = metrics[f"val-aux/{source}/pixel/used_tool/mean@1"]
    assert 0.0 <= tur <= 1.0
    assert f"val-aux/{source}/pixel/ops_attempted/mean@1" in metrics
    assert f"val-aux/{source}/pixel/tool_visual_tokens/mean@1" in metrics
    assert not any(key.startswith("actor/") for step in result.steps for key in step)  # nothing was trained
