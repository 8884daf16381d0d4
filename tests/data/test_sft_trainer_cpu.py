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


def _video_sample(folder, family="qwen2_5_vl"):
    """Synthesized trajectories of 8 video questions drawn like the seed sample's: 4 to train on, 4 to validate."""
    from verl_pixel.data.parquet_io import write_sft_parquet
    from verl_pixel.data.seed_sample import SeedSampleSpec, load_seed_sample
    from verl_pixel.data.smoke_sample import SMOKE_INPUT_TOKENS, smoke_pixels, smoke_video
    from verl_pixel.data.synthesis_config import SynthesisConfig
    from verl_pixel.data.synthesize import synthesize

    seeds = load_seed_sample(folder / "seed_sample", SeedSampleSpec(n_images=0, n_videos=8))
    config = SynthesisConfig(
        seed=0, input_max_pixels=smoke_pixels(family, SMOKE_INPUT_TOKENS), video=smoke_video(family),
        video_single_pass=0.5, video_reselect=0.5, text_only=0.0,
    )  # fmt: skip
    rows = synthesize(seeds, config).rows
    return write_sft_parquet(rows[:4], folder / "sft_train.parquet"), write_sft_parquet(
        rows[4:], folder / "sft_val.parquet"
    )


# What each family trains on: every row one video of 16 stored frames of 252x196, sized by the video decoder at the
# smoke budget (Qwen2.5-VL: fetch_image rounds both sides to 224 at factor 56 -> grid (8, 16, 16), 512
# <|video_pad|>; Qwen3-VL: 256x192 at factor 32 -> grid (8, 12, 16), written as 8 timestamped blocks of 6 x 8 = 384
# pads in all), and the selected frames as images of the tool turns (grid (1, 16, 16): 64 pads each).
VIDEO_GRID_AND_PADS = {"qwen2_5_vl": ([8, 16, 16], 512), "qwen3_vl": ([8, 12, 16], 384)}


@pytest.mark.slow
def test_sft_trainer_trains_on_videos_kept_as_videos(tmp_path, family):
    from omegaconf import OmegaConf
    from transformers import AutoProcessor

    from verl_pixel.data.sft_dataset import PixelSFTDataset
    from verl_pixel.tiny_models import tiny_model_dirname

    result = run_sft_smoke(tmp_path, steps=2, data_builder=lambda folder: _video_sample(folder, family), family=family)
    assert result.returncode == 0 and len(result.train_losses) == 2, result.log_file.read_text()[-4000:]
    assert all(math.isfinite(x) for x in result.train_losses) and result.train_losses[1] < result.train_losses[0]
    assert result.val_losses and math.isfinite(result.val_losses[-1]) and result.ok
    processor = AutoProcessor.from_pretrained(tmp_path / tiny_model_dirname(family), trust_remote_code=True)
    config = OmegaConf.create({"max_length": 4096, "pad_mode": "no_padding", "truncation": "error"})
    dataset = PixelSFTDataset(str(tmp_path / "data" / "sft_train.parquet"), processor.tokenizer, config, processor)
    video_pad, image_pad = (processor.tokenizer.convert_tokens_to_ids(t) for t in ("<|video_pad|>", "<|image_pad|>"))
    video_grid, video_pads = VIDEO_GRID_AND_PADS[family]
    for sample in (dataset[i] for i in range(len(dataset))):
        inputs, ids = sample["multi_modal_inputs"], sample["input_ids"]
        assert inputs["video_grid_thw"].tolist() == [video_grid] and int((ids == video_pad).sum()) == video_pads
        frames = inputs["image_grid_thw"].tolist()
        assert (
            frames and all(grid == [1, 16, 16] for grid in frames) and int((ids == image_pad).sum()) == 64 * len(frames)
        )
