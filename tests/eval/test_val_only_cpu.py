"""The verl-native evaluation path: main_ppo with trainer.val_only=True, pixel_agent, the pixel reward, hf backend.

Test hook ON, on purpose: the first turn of every validation rollout is forced to ``<answer>5</answer>`` (then the
end of the turn), so the numbers are known by construction whatever the random-weight model would have written.
The validation rows are the seed sample's image questions 5 and 6 (``write_rl_sample``): a 4-digit code whose
answer is 6290 and a dot count whose answer is 5. Each rollout is that one turn, no tool call:

* accuracy = mean(0, 1) = 0.5 exactly (the count is right, the code is not);
* TUR = 0, no operation attempted, no tool image tokens, one assistant turn each.

(The tool-using side of verl's validation metrics is pinned in-process by tests/eval/test_verl_native.py, and the
forced crop path end to end by tests/backends/test_main_ppo_cpu.py.)
"""

from __future__ import annotations

import pandas as pd
import pytest

from verl_pixel.quickstart.grpo_cpu import run_grpo_smoke
from verl_pixel.testing.forced_tool_calls import forced_first_turn_overrides

SOURCE = "verl_pixel/seed_sample"


@pytest.mark.slow
def test_val_only_reports_accuracy_and_tool_use_per_data_source(tmp_path):
    overrides = [
        "trainer.val_only=True",
        "trainer.val_before_train=True",
        *forced_first_turn_overrides("<answer>5</answer>"),
    ]
    result = run_grpo_smoke(tmp_path, steps=1, extra_overrides=overrides)
    assert result.returncode == 0, result.log_file.read_text()[-4000:]
    # The premise: the two validation questions and their answers.
    truths = pd.read_parquet(tmp_path / "data" / "rl_val.parquet")["reward_model"]
    assert [(t["ground_truth"]["answer"], t["ground_truth"]["answer_type"]) for t in truths] == [
        ("6290", "number"),
        ("5", "number"),
    ]
    (metrics,) = [step for step in result.steps if any(key.startswith("val-core/") for key in step)]
    assert metrics[f"val-core/{SOURCE}/acc/mean@1"] == 0.5
    # TUR = mean of pixel/used_tool over the validation responses (one per query, session 0: adaptive).
    assert metrics[f"val-aux/{SOURCE}/pixel/used_tool/mean@1"] == 0.0
    assert metrics[f"val-aux/{SOURCE}/pixel/ops_attempted/mean@1"] == 0.0
    assert metrics[f"val-aux/{SOURCE}/pixel/tool_visual_tokens/mean@1"] == 0.0
    assert metrics[f"val-aux/{SOURCE}/pixel/turns/mean@1"] == 1.0
    assert not any(key.startswith("actor/") for step in result.steps for key in step)  # nothing was trained
