"""Small synthesized SFT parquets from the bundled seed sample, sized for CPU smoke runs of verl's trainer.

The images, video frames and crops are stored at small pixel budgets so that a recrop-twice trajectory stays within
a few thousand tokens; everything else (types, masks, tool outputs) is what full-size synthesis produces.
"""

from __future__ import annotations

from pathlib import Path

from verl_pixel.data.parquet_io import write_sft_parquet
from verl_pixel.data.seed_sample import SeedSampleSpec, load_seed_sample
from verl_pixel.data.synthesis_config import SynthesisConfig
from verl_pixel.data.synthesize import synthesize
from verl_pixel.data.video_sampling import VideoBudget
from verl_pixel.model_family import ModelFamily, family_spec

SMOKE_INPUT_TOKENS = 256  # visual tokens of a stored input image
SMOKE_CROP_TOKENS = 64  # visual tokens of a crop (at least twice the family processor's minimum, see smoke_pixels)
# Input video frames: at most 64 tokens each (16 frames -> 8 temporal patches -> 512 video tokens), at least 16.
SMOKE_VIDEO_TOKENS = 64
SMOKE_VIDEO_MIN_TOKENS = 16
SMOKE_MAX_LENGTH = 4096  # longest smoke row is ~2,600 tokens with the tiny tokenizer


def smoke_pixels(family: str | ModelFamily, tokens: int) -> int:
    """A small pixel budget of ``tokens`` visual tokens in ``family``'s units, kept at twice its processor's minimum.

    Why the floor: ``smart_resize`` rounds sides down under a budget, so a budget at the processor's minimum can
    give a view below it, which the processor would enlarge again (Qwen3-VL's minimum is 64 tokens).
    """
    spec = family_spec(family)
    return spec.pixels(max(tokens, 2 * spec.ops_config().min_pixels // spec.factor**2))


def smoke_video(family: str | ModelFamily = ModelFamily.QWEN2_5_VL) -> VideoBudget:
    """The smoke runs' per-frame bounds of input videos, in ``family``'s units (:data:`SMOKE_VIDEO_TOKENS`)."""
    spec = family_spec(family)
    return VideoBudget(
        max_pixels=smoke_pixels(family, SMOKE_VIDEO_TOKENS), min_pixels=spec.pixels(SMOKE_VIDEO_MIN_TOKENS)
    )


def write_synthesized_sft_sample(
    folder: str | Path, n_val: int = 4, seed: int = 0, family: str | ModelFamily = ModelFamily.QWEN2_5_VL
) -> tuple[Path, Path]:
    """Draw the seed sample, synthesize one trajectory per seed, and split it into train / val parquets.

    Args:
        folder: destination; gets ``seed_sample/``, ``sft_train.parquet`` and ``sft_val.parquet``.
        n_val: rows in the validation file (spread evenly over the seeds, so it holds images and videos).
        seed: synthesis seed.
        family: model family whose operation preset (coordinates, factor) and budgets the rows follow.

    Returns:
        (train parquet, val parquet).
    """
    out = Path(folder)
    seeds = load_seed_sample(out / "seed_sample", SeedSampleSpec())
    config = SynthesisConfig(
        seed=seed,
        input_max_pixels=smoke_pixels(family, SMOKE_INPUT_TOKENS),
        video=smoke_video(family),
        ops=family_spec(family).ops_config(crop_max_pixels=smoke_pixels(family, SMOKE_CROP_TOKENS)),
    )
    rows = synthesize(seeds, config).rows
    val_index = {round(i * (len(rows) - 1) / max(1, n_val - 1)) for i in range(n_val)}
    train = write_sft_parquet([r for i, r in enumerate(rows) if i not in val_index], out / "sft_train.parquet")
    val = write_sft_parquet([r for i, r in enumerate(rows) if i in val_index], out / "sft_val.parquet")
    return train, val
