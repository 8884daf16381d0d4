"""verl's real main_ppo (V1 GRPO, CPU, hf backend) with the necessity memory: the layout varies by prompt.

The shipped CPU config (Look Less, layout adaptive 2 / force_tool 1 / no_tool 1) with ``pixel.probing.enable`` and
three training prompts, two per step. Everything asserted holds by construction:

* verl's sampler (``data.seed: 1``, torchdata's ``RandomSampler``) visits rows [1, 2] at step 1 and, after the
  epoch ends (``drop_last``), rows [0, 1] at step 2 (permutations of 3 under ``torch.Generator().manual_seed(1)``:
  [1, 2, 0] then [0, 1, 2]);
* ``tolerance: 1.0`` settles a prompt as soon as both probe modes were observed once (``settle_z * sd <= 1`` for any
  posterior), so a revisited prompt runs no probes whatever the answers were; every probe counts as evidence
  (``look_less.probe_accuracy: all``): by default only probes that obeyed their mode do, and the random-weight model
  rarely obeys force_tool, so the memory would wait for one;
* so step 1 plans both prompts ``new`` (4 rollouts each); step 2 plans row 0 ``new`` (4 rollouts) and row 1
  ``settled`` (its 2 adaptive rollouts only): generated rollouts 8 then 6.

No tool call is forced: the modes are read from the prompts the model got (the mode instructions in each rollout's
decoded input in verl's rollout dump), not from what the random-weight model did.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from verl_pixel.prompts import DEFAULT_MODE_INSTRUCTIONS
from verl_pixel.quickstart.grpo_cpu import run_grpo_smoke
from verl_pixel.record import RolloutMode

FORCE_TEXT = DEFAULT_MODE_INSTRUCTIONS[RolloutMode.FORCE_TOOL]
NO_TOOL_TEXT = DEFAULT_MODE_INSTRUCTIONS[RolloutMode.NO_TOOL]


def layouts(folder, step: int) -> dict[str, list[str]]:
    """verl's rollout dump of a step as {prompt uid: [mode of session 0, 1, ...]} (modes from the prompt text)."""
    sessions: dict[str, dict[int, str]] = defaultdict(dict)
    for line in (folder / f"{step}.jsonl").read_text().splitlines():
        record = json.loads(line)
        uid, session, _ = record["uid"].rsplit("_", 2)
        if uid.startswith("pad"):  # verl's no-op rows padding the batch to the mini-batch multiple
            continue
        text = record["input"]
        mode = "force_tool" if FORCE_TEXT in text else "no_tool" if NO_TOOL_TEXT in text else "adaptive"
        sessions[uid][int(session)] = mode
    return {uid: [modes[i] for i in sorted(modes)] for uid, modes in sessions.items()}


@pytest.mark.slow
def test_main_ppo_with_the_memory_varies_the_layout_by_prompt(tmp_path):
    dump = tmp_path / "rollout_dump"
    overrides = [
        f"trainer.rollout_data_dir={dump}",
        "data.train_max_samples=3",
        "+pixel.probing.enable=True",
        "+pixel.probing.tolerance=1.0",
        "+pixel.reward.look_less.probe_accuracy=all",
    ]
    result = run_grpo_smoke(tmp_path, steps=2, timeout_s=600, extra_overrides=overrides)
    assert result.returncode == 0, result.log_file.read_text()[-5000:]
    assert len(result.steps) == 2
    full = ["adaptive", "adaptive", "force_tool", "no_tool"]
    assert sorted(layouts(dump, 1).values()) == [full, full]
    assert sorted(layouts(dump, 2).values()) == [["adaptive", "adaptive"], full]
    assert result.series("pixel/rollouts") == [8.0, 6.0]
    assert result.series("pixel/group/size") == [4.0, 3.0]
    assert result.series("pixel/probe/plan/new") == [1.0, 0.5]
    assert result.series("pixel/probe/plan/settled") == [0.5]  # step 2 only
    assert result.series("pixel/probe/rollouts") == [2.0, 1.0]
    assert result.series("pixel/memory/prompts") == [2.0, 3.0]
    # a forced crop's tool use and a random model's answers: whatever they were, the layout above did not depend on them
    assert all(0.0 <= rate <= 1.0 for rate in result.series("pixel/memory/need_rate"))
