"""Throughput of PixelSFTDataset vs verl's stock MultiTurnSFTDataset on the same multi-turn image rows.

    python benchmarks/sft_dataset_bench.py [--rows 24] [--repeats 5] [--input-tokens 256] [--crop-tokens 64]

Data: synthesized zoom-in trajectories of the bundled seed sample (image seeds only: the stock class cannot
expand frame-list videos without torchvision), with every ``loss_mask`` / ``tool_output`` key removed and no
``tools`` column (the stock class cannot read the JSON-text tools), so both classes do the same work.

Fair trick: verl's ``process_image`` imports ``qwen_vl_utils.fetch_image`` on every call, and qwen_vl_utils imports
torchvision, which is absent here. A stub ``qwen_vl_utils`` module is installed whose ``fetch_image`` only converts
the already-opened PIL image to RGB — exactly what PixelSFTDataset's PIL decoding does. In both classes the
processor then resizes (``smart_resize``), tokenizes, and builds pixel values, so the timed difference is the
datasets' own Python work: placeholder expansion, validation and the loss-mask override.

Both datasets are built in the same process and timed in alternating passes (A B A B ...) over all rows, after a
warm-up pass each. Target: PixelSFTDataset >= 0.95x the stock samples/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import types
from pathlib import Path

os.environ.setdefault("VERL_PLATFORM", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def install_qwen_vl_utils_stub() -> None:
    """Stand-in for qwen_vl_utils (needs torchvision): fetch_image returns the opened image as RGB."""

    def fetch_image(ele: dict, image_patch_size: int = 14):
        return ele["image"].convert("RGB")

    stub = types.ModuleType("qwen_vl_utils")
    stub.fetch_image = fetch_image
    sys.modules["qwen_vl_utils"] = stub


def build_rows(folder: Path, n_rows: int, input_tokens: int, crop_tokens: int) -> Path:
    from verl_pixel.data.parquet_io import write_sft_parquet
    from verl_pixel.data.seed_sample import load_seed_sample
    from verl_pixel.data.synthesis_config import SynthesisConfig
    from verl_pixel.data.synthesize import synthesize
    from verl_pixel.ops import VisualOpsConfig

    seeds = [seed for seed in load_seed_sample(folder / "seed_sample") if seed.image][:n_rows]
    config = SynthesisConfig(
        input_max_pixels=input_tokens * 28 * 28, ops=VisualOpsConfig(crop_max_pixels=crop_tokens * 28 * 28)
    )
    rows = synthesize(seeds, config).rows
    for row in rows:
        row.pop("tools")
        row.pop("videos")
        for message in row["messages"]:
            message.pop("loss_mask", None)
            message.pop("tool_output", None)
    path = write_sft_parquet(rows, folder / "bench.parquet")
    # write_sft_parquet adds the uniform message keys back as nulls; both classes see the same columns.
    return path


def time_pass(dataset, n_items: int) -> float:
    start = time.perf_counter()
    for index in range(n_items):
        dataset[index]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--input-tokens", type=int, default=256, help="input image budget in visual tokens")
    parser.add_argument("--crop-tokens", type=int, default=64, help="crop budget in visual tokens")
    args = parser.parse_args()

    install_qwen_vl_utils_stub()
    from omegaconf import OmegaConf
    from transformers import AutoProcessor
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    from verl_pixel.data.sft_dataset import PixelSFTDataset
    from verl_pixel.tiny_models import cached_tiny_qwen25vl

    work = Path(os.environ.get("VERL_PIXEL_CACHE") or tempfile.mkdtemp(prefix="sft_bench_"))
    processor = AutoProcessor.from_pretrained(cached_tiny_qwen25vl(work), trust_remote_code=True)
    path = build_rows(work, args.rows, args.input_tokens, args.crop_tokens)
    config = OmegaConf.create({"max_length": 32768, "pad_mode": "no_padding", "truncation": "error"})
    datasets = {
        "MultiTurnSFTDataset (verl)": MultiTurnSFTDataset(str(path), processor.tokenizer, config, processor=processor),
        "PixelSFTDataset": PixelSFTDataset(str(path), processor.tokenizer, config, processor=processor),
    }
    n_items = len(next(iter(datasets.values())))
    seconds = dict.fromkeys(datasets, 0.0)
    for dataset in datasets.values():
        time_pass(dataset, n_items)  # warm-up
    for _ in range(args.repeats):
        for name, dataset in datasets.items():
            seconds[name] += time_pass(dataset, n_items)
    tokens = sum(len(datasets["PixelSFTDataset"][i]["input_ids"]) for i in range(n_items)) / n_items
    print(f"{n_items} rows x {args.repeats} passes, {tokens:.0f} tokens per row on average")
    print(f"{'dataset':<30} {'samples/s':>10} {'ms/sample':>10}")
    rates = {}
    for name, total in seconds.items():
        rates[name] = n_items * args.repeats / total
        print(f"{name:<30} {rates[name]:>10.1f} {1000 / rates[name]:>10.2f}")
    ratio = rates["PixelSFTDataset"] / rates["MultiTurnSFTDataset (verl)"]
    print(f"ratio PixelSFTDataset / stock: {ratio:.3f}x (target >= 0.95x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
