"""verl's real SFT trainer (torchrun, FSDP2 over gloo) trains the tiny model on CPU with PixelSFTDataset."""

from __future__ import annotations

import math

import pytest

from verl_pixel.quickstart import run_sft_smoke


@pytest.mark.slow
def test_sft_trainer_runs_three_steps_and_checkpoints(tmp_path):
    result = run_sft_smoke(tmp_path, steps=3)
    log_tail = result.log_file.read_text()[-4000:]
    assert result.returncode == 0, log_tail
    assert len(result.train_losses) == 3 and all(math.isfinite(x) for x in result.train_losses), log_tail
    assert result.val_losses and math.isfinite(result.val_losses[-1])
    # Random-init model, constant lr 1e-3: three AdamW steps on the same small data reduce the loss.
    assert result.train_losses[-1] < result.train_losses[0]
    assert (result.checkpoint_dir / "huggingface" / "config.json").is_file()
    assert any(result.checkpoint_dir.glob("model_world_size_1_rank_0.pt"))
    assert result.ok


@pytest.mark.slow
def test_sft_trainer_on_synthesized_trajectories_of_the_seed_sample(tmp_path):
    from verl_pixel.data.smoke_sample import SMOKE_MAX_LENGTH, write_synthesized_sft_sample

    result = run_sft_smoke(tmp_path, steps=2, data_builder=write_synthesized_sft_sample, max_length=SMOKE_MAX_LENGTH)
    log_tail = result.log_file.read_text()[-4000:]
    assert result.returncode == 0, log_tail
    assert len(result.train_losses) == 2 and all(math.isfinite(x) for x in result.train_losses), log_tail
    assert result.val_losses and math.isfinite(result.val_losses[-1])
    assert (result.checkpoint_dir / "huggingface" / "config.json").is_file()
    assert result.ok
