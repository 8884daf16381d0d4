"""verl's real main_ppo (V1 GRPO) on CPU: tiny model, pixel_agent, pixel reward with Look Less shaping, hf backend."""

from __future__ import annotations

import math

import pytest

from verl_pixel.quickstart.grpo_cpu import run_grpo_smoke


@pytest.mark.slow
def test_main_ppo_two_grpo_steps_on_cpu(tmp_path):
    result = run_grpo_smoke(tmp_path, steps=2, timeout_s=900)
    log_tail = result.log_file.read_text()[-5000:]
    assert result.returncode == 0, log_tail
    assert len(result.steps) == 2, log_tail
    # Rewards are finite, and the project's group metrics reached verl's tracking (file logger).
    assert all(math.isfinite(x) for x in result.series("critic/score/mean"))
    for key in ("pixel/reward/total", "pixel/rapr", "pixel/rapr/adaptive", "pixel/compliance/force_tool",
                "pixel/probe/defined_rate", "pixel/ops/failed_rate", "pixel/rollouts"):  # fmt: skip
        assert len(result.series(key)) == 2, key
    # Layout adaptive:2 force_tool:1 no_tool:1 over n=4 and 2 prompts: 8 rollouts per step, probes in every group.
    assert result.series("pixel/rollouts") == [8.0, 8.0]
    assert result.series("pixel/probe/defined_rate") == [1.0, 1.0]
    # At least one trajectory made a tool turn (the nudged first turns go through the same hf backend path).
    assert max(result.series("pixel/ops/succeeded")) > 0
    assert max(result.series("pixel/images_added")) > 0
    # The rollout follows the actor's weights: the rollout-vs-actor log-prob gap stays small on every step
    # (a server left on stale weights shows a gap ten times larger from step 2 on, hf_rollout_spike.md §5).
    gaps = result.series("training/rollout_probs_diff_max")
    assert len(gaps) == 2 and all(gap < 1e-3 for gap in gaps), gaps
    assert all(g > 0 for g in result.series("actor/grad_norm"))
