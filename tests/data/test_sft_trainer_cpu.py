"""verl's real SFT trainer (torchrun, FSDP2 over gloo) trains the tiny model on CPU with PixelSFTDataset.

The three-step run is made once per model family (Qwen2.5-VL, Qwen3-VL).
"""

from __future__ import annotations

import json
import math

import pytest

from verl_pixel.quickstart.sft import run_sft_smoke
from verl_pixel.testing.sft_sample import write_sft_sample


def _toy_sample(folder):
    return (
        write_sft_sample(folder / "sft_train.parquet", n_rows=16, seed=0),
        write_sft_sample(folder / "sft_val.parquet", n_rows=4, seed=1),
    )


@pytest.mark.slow
def test_sft_trainer_runs_three_steps_and_checkpoints(tmp_path, family):
    result = run_sft_smoke(tmp_path, steps=3, data_builder=_toy_sample, max_length=1024, family=family)
    log_tail = result.log_file.read_text()[-4000:]
    assert result.returncode == 0, log_tail
    assert len(result.train_losses) == 3 and all(math.isfinite(x) for x in result.train_losses), log_tail
    assert result.val_losses and math.isfinite(result.val_losses[-1])
    # Random-init model, constant lr 1e-3: three AdamW steps on the same small data reduce the loss.
    assert result.train_losses[-1] < result.train_losses[0]
    assert (result.checkpoint_dir / "huggingface" / "config.json").is_file()
    assert json.loads((result.checkpoint_dir / "huggingface" / "config.json").read_text())["model_type"] == family
    assert any(result.checkpoint_dir.glob("model_world_size_1_rank_0.pt"))
    assert result.ok


@pytest.mark.slow
def test_sft_trainer_on_synthesized_trajectories_of_the_seed_sample(tmp_path):
    result = run_sft_smoke(tmp_path, steps=2)  # default data: synthesized trajectories of the seed sample
    log_tail = result.log_file.read_text()[-4000:]
    assert result.returncode == 0, log_tail
    assert len(result.train_losses) == 2 and all(math.isfinite(x) for x in result.train_losses), log_tail
    # The loss is a per-token mean cross-entropy over the trained tokens: the random-init model (initializer range
    # 0.02) predicts almost uniformly over its vocabulary, so step 1 starts at ln(vocab) (+ a little for the random
    # logits; verl logs it in bf16), and one AdamW step at lr 1e-3 already learns the token frequencies.
    vocab = json.loads((tmp_path / "tiny-qwen25vl" / "config.json").read_text())["text_config"]["vocab_size"]
    assert result.train_losses[0] == pytest.approx(math.log(vocab), abs=0.15), (result.train_losses, vocab)
    assert result.train_losses[1] < result.train_losses[0]
    assert result.val_losses and math.isfinite(result.val_losses[-1])
    assert (result.checkpoint_dir / "huggingface" / "config.json").is_file()
    assert result.ok
