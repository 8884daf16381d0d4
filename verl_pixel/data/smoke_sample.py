"""Small synthesized SFT parquets from the bundled seed sample, sized for CPU smoke runs of verl's trainer.

The images and crops are stored at small pixel budgets so that a recrop-twice trajectory stays within a few
thousand tokens; everything else (types, masks, tool outputs) is what full-size synthesis produces.
"""

from __future__ import annotations

from pathlib import Path

from verl_pixel.data.parquet_io import write_sft_parquet
from verl_pixel.data.seed_sample import SeedSampleSpec, load_seed_sample
from verl_pixel.data.synthesis_config import SynthesisConfig
from verl_pixel.data.synthesize import synthesize
from verl_pixel.ops import VisualOpsConfig

SMOKE_INPUT_MAX_PIXELS = 256 * 28 * 28
SMOKE_CROP_MAX_PIXELS = 64 * 28 * 28
SMOKE_MAX_LENGTH = 4096  # longest smoke row is ~2,600 tokens with the tiny tokenizer


def write_synthesized_sft_sample(folder: str | Path, n_val: int = 4, seed: int = 0) -> tuple[Path, Path]:
    """Draw the seed sample, synthesize one trajectory per seed, and split it into train / val parquets.

    Args:
        folder: destination; gets ``seed_sample/``, ``sft_train.parquet`` and ``sft_val.parquet``.
        n_val: rows in the validation file (spread evenly over the seeds, so it holds images and videos).
        seed: synthesis seed.

    Returns:
        (train parquet, val parquet).
    """
    out = Path(folder)
    seeds = load_seed_sample(out / "seed_sample", SeedSampleSpec())
    config = SynthesisConfig(
        seed=seed,
        input_max_pixels=SMOKE_INPUT_MAX_PIXELS,
        ops=VisualOpsConfig(crop_max_pixels=SMOKE_CROP_MAX_PIXELS),
    )
    rows = synthesize(seeds, config).rows
    val_index = {round(i * (len(rows) - 1) / max(1, n_val - 1)) for i in range(n_val)}
    train = write_sft_parquet([r for i, r in enumerate(rows) if i not in val_index], out / "sft_train.parquet")
    val = write_sft_parquet([r for i, r in enumerate(rows) if i in val_index], out / "sft_val.parquet")
    return train, val
