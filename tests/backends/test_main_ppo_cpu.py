"""verl's real main_ppo (V1 GRPO) on CPU: tiny model, pixel_agent, pixel reward with Look Less shaping, hf backend.

Runs once per model family (Qwen2.5-VL, Qwen3-VL): the same assertions hold for both.

Test hook ON, on purpose: a random-weight model never calls a tool, so this run forces the first turn of every
rollout to be the crop call ``forced_tool_call_overrides()`` names (the hf backend's nudge; every shipped config
leaves it off). The tool-use numbers below therefore measure the forced calls and the path they take through
pixel_agent, the tools and the reward, not the model. Everything asserted holds by construction, not by luck:

* the forced crop box is the image's centre (in the family's coordinates), so it succeeds on every image;
* the layout is adaptive 2, force_tool 1, no_tool 1 per prompt (n = 4) and 2 prompts per step: 8 rollouts;
* no_tool rollouts are offered no tools, so their forced call is refused (attempted, not complied).
"""

from __future__ import annotations

import json
import math

import pytest

from verl_pixel.quickstart.grpo_cpu import run_grpo_smoke
from verl_pixel.testing.forced_tool_calls import forced_tool_call_overrides

LAMBDA_INSTR = LAMBDA_ALIGN = 0.5  # Look Less defaults (verl_pixel/reward/config.py LookLessConfig)
C2, B1, B2 = -0.2, 1.0, 0.2  # alignment table: no need but used; need, used, correct; need, used, wrong
SESSIONS = {0: "adaptive", 1: "adaptive", 2: "force_tool", 3: "no_tool"}  # session id -> mode, by the layout
# Rollout-vs-actor probability gap (verl's training/rollout_probs_diff_max, |p_rollout - p_actor| over response
# tokens). Measured on this run (benchmarks/results/rollout_sync_control.md, seeds of grpo_cpu.yaml): healthy
# <= 7.6e-10 on every step (actor and server both compute in fp32); with the server kept on the step-0 weights
# (verl_pixel.testing.stale_rollout_weights) 7.0e-4 at step 2 and 9.2e-4 at step 3. The bound sits > 1000x above
# the healthy gap and ~700x below the stale one. (verl's default bf16 actor gave 2.5e-5 healthy vs 7.0e-4 stale.)
GAP_BOUND = 1e-6


def _dumped_groups(folder, step):
    """verl's rollout dump of one step, as {prompt uid: {mode: [score, ...]}} (the key is uid_session_index)."""
    groups: dict[str, dict[str, list[float]]] = {}
    for line in (folder / f"{step}.jsonl").read_text().splitlines():
        record = json.loads(line)
        uid, session, _ = record["uid"].rsplit("_", 2)
        groups.setdefault(uid, {}).setdefault(SESSIONS[int(session)], []).append(record["score"])
    return groups


def _one_of(value, *expected):
    """``value`` (float32 from verl's rm_scores) is one of ``expected``."""
    return any(value == pytest.approx(option, abs=1e-6) for option in expected)


def _check_shaped_scores(groups):
    """Each dumped (shaped) score against the Look Less rule worked by hand; raw accuracy is 0 or 1 here."""
    for modes in groups.values():
        (tool_score,), (no_tool_score,) = modes["force_tool"], modes["no_tool"]
        # force_tool complied (forced crop succeeded): acc + lambda_instr; no_tool did not (refused call): acc.
        assert _one_of(tool_score, 0.0 + LAMBDA_INSTR, 1.0 + LAMBDA_INSTR) and _one_of(no_tool_score, 0.0, 1.0), modes
        need = round(tool_score - LAMBDA_INSTR) > round(no_tool_score)  # acc_tool > acc_no (margin 0: tie = no)
        for score in modes["adaptive"]:  # used a tool (forced): need -> b1 / b2 by correctness, else c2
            if need:
                assert _one_of(score, 1.0 + LAMBDA_ALIGN * B1, 0.0 + LAMBDA_ALIGN * B2), modes
            else:
                assert _one_of(score, 0.0 + LAMBDA_ALIGN * C2, 1.0 + LAMBDA_ALIGN * C2), modes


@pytest.mark.slow
def test_main_ppo_two_grpo_steps_on_cpu(tmp_path, family):
    dump = tmp_path / "rollout_dump"
    overrides = [*forced_tool_call_overrides(every=1, family=family), f"trainer.rollout_data_dir={dump}"]
    result = run_grpo_smoke(tmp_path, steps=2, timeout_s=900, extra_overrides=overrides, family=family)
    log_tail = result.log_file.read_text()[-5000:]
    assert result.returncode == 0, log_tail
    assert len(result.steps) == 2, log_tail
    assert all(math.isfinite(x) for x in result.series("critic/score/mean"))
    assert result.series("pixel/rollouts") == [8.0, 8.0]
    assert result.series("pixel/probe/defined_rate") == [1.0, 1.0]
    # The forced calls go through pixel_agent and the crop tool: one successful crop per adaptive and force_tool
    # rollout (6 of 8), an image added each; the refused no_tool call adds nothing.
    assert result.series("pixel/rapr/adaptive") == result.series("pixel/rapr/force_tool") == [1.0, 1.0]
    assert result.series("pixel/compliance/force_tool") == [1.0, 1.0]
    assert result.series("pixel/compliance/no_tool") == result.series("pixel/rapr/no_tool") == [0.0, 0.0]
    assert min(result.series("pixel/images_added")) >= 6 / 8
    # Shaping changed the scores as the hand-worked rule says: 2 complied force_tool probes of 8 rollouts earn
    # lambda_instr each, so the step's mean instruction bonus is 0.5 * 2 / 8; per rollout in verl's dump below.
    assert result.series("pixel/reward/instr_bonus") == [0.125, 0.125]
    for step in (1, 2):
        groups = _dumped_groups(dump, step)
        assert len(groups) == 2 and all(len(modes["adaptive"]) == 2 for modes in groups.values())
        _check_shaped_scores(groups)
    # The rollout follows the actor's weights on every step (bound and measurements above).
    gaps = result.series("training/rollout_probs_diff_max")
    assert len(gaps) == 2 and all(gap < GAP_BOUND for gap in gaps), gaps
    # A gradient on every step by construction: each force_tool probe is alone in its GRPO group (own_group), where
    # verl's advantage is the score itself (mean 0, std 1 for a group of one, core_algos.compute_grpo_outcome_
    # advantage), and its score is >= lambda_instr = 0.5 (asserted above), on tokens the actor trains.
    assert all(g > 0 for g in result.series("actor/grad_norm"))
    assert (tmp_path / {"qwen2_5_vl": "tiny-qwen25vl", "qwen3_vl": "tiny-qwen3vl"}[family] / "config.json").is_file()
