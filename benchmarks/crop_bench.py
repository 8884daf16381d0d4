"""Crop + resize from the stored original (verl_pixel) vs the peers' path (resize the whole image, then crop).

The peers' path is what verl's removed ImageZoomInTool / DeepEyes / Pixel Reasoner do on every call:
qwen_vl_utils.fetch_image resizes the whole image to the processor budget (reproduced here with transformers'
smart_resize and PIL's resize, as fetch_image does), the box is cut from that copy, and the cut is resized to the
crop budget. verl_pixel maps the box to the stored original, cuts there and resizes only the cut.

Both paths get the same 10% x 10% box (normalized [0.45, 0.45, 0.55, 0.55], i.e. the region the model drew on the
image it saw), no padding, budgets of METHOD.md §1 (originals 2000*28*28, crops 1000*28*28), images already decoded
in memory. "source px" is how many pixels of real image content stand behind the returned crop.

Run: python benchmarks/crop_bench.py [--repeats 7] [--check]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from verl_pixel.ops import CropSource, ImageRegistry, VisualOpsConfig, fit_to_budget, resize_to_budget, run_operation
from verl_pixel.ops.resize import RESAMPLE, to_rgb

SIZES = {"1K": (1024, 768), "4K": (3840, 2160), "8K": (7680, 4320)}
BOX = (0.45, 0.45, 0.55, 0.55)
CONFIG = VisualOpsConfig(padding=0.0, coordinates="normalized", crop_source=CropSource.ORIGINAL)
TARGET_TIME_RATIO = 0.1  # at 4K
TARGET_DETAIL_RATIO = 5.0  # at 4K


def make_image(size: tuple[int, int]) -> Image.Image:
    """A decoded RGB image with structure at every scale (noise), so resizing does real work."""
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def ours(original: Image.Image, model_image: Image.Image) -> tuple[Image.Image, int]:
    """verl_pixel: map the box to the original, cut there, resize the cut. Returns (crop, source pixels)."""
    registry = ImageRegistry.from_inputs(CONFIG, [model_image], [original])
    result = run_operation(registry, "crop_image", {"bbox_2d": list(BOX)})
    left, top, right, bottom = result.region
    return result.images[0], (right - left) * (bottom - top)


def peers(original: Image.Image) -> tuple[Image.Image, int]:
    """fetch_image (whole image to the original budget), cut in that copy, resize the cut to the crop budget."""
    image = to_rgb(original)
    view_size = fit_to_budget(image.size, CONFIG.factor, CONFIG.min_pixels, CONFIG.image_max_pixels)
    view = image.resize(view_size, RESAMPLE)
    width, height = view.size
    box = (int(BOX[0] * width), int(BOX[1] * height), int(BOX[2] * width), int(BOX[3] * height))
    cut = view.crop(box)
    crop = resize_to_budget(cut, CONFIG.factor, CONFIG.min_pixels, CONFIG.crop_max_pixels)
    return crop, cut.width * cut.height


def median_ms(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``function`` in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(label: str, size: tuple[int, int], repeats: int) -> dict[str, object]:
    """One table row."""
    original = make_image(size)
    # the model's copy exists before any tool call (verl made it when building the prompt)
    model_image = original.resize(
        fit_to_budget(size, CONFIG.factor, CONFIG.min_pixels, CONFIG.image_max_pixels), RESAMPLE
    )
    our_crop, our_source = ours(original, model_image)
    peer_crop, peer_source = peers(original)
    our_ms = median_ms(lambda: ours(original, model_image), repeats)
    peer_ms = median_ms(lambda: peers(original), repeats)
    return {
        "image": f"{label} {size[0]}x{size[1]}",
        "ours_ms": our_ms,
        "peers_ms": peer_ms,
        "time_ratio": our_ms / peer_ms,
        "ours_crop": f"{our_crop.width}x{our_crop.height}",
        "peers_crop": f"{peer_crop.width}x{peer_crop.height}",
        "ours_source_px": our_source,
        "peers_source_px": peer_source,
        "detail_ratio": our_source / peer_source,
    }


def print_table(rows: list[dict[str, object]]) -> None:
    """Fixed-width table on stdout."""
    header = (
        f"{'image':<16}{'ours ms':>9}{'peers ms':>10}{'time x':>8}{'ours crop':>11}{'peers crop':>12}"
        f"{'ours src px':>13}{'peers src px':>14}{'detail x':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['image']:<16}{row['ours_ms']:>9.1f}{row['peers_ms']:>10.1f}{row['time_ratio']:>8.3f}"
            f"{row['ours_crop']:>11}{row['peers_crop']:>12}{row['ours_source_px']:>13,}{row['peers_source_px']:>14,}"
            f"{row['detail_ratio']:>10.2f}"
        )


def main() -> int:
    """Measure, print, and with --check fail unless the 4K targets hold."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="exit 1 unless 4K time <= 0.1x and detail >= 5x")
    args = parser.parse_args()
    ours(make_image((56, 56)), make_image((56, 56)))  # warm-up: imports transformers' smart_resize
    rows = [measure(label, size, args.repeats) for label, size in SIZES.items()]
    print(f"box {BOX} (10% x 10%), padding 0, budgets: originals {CONFIG.image_max_pixels} px, ", end="")
    print(f"crops {CONFIG.crop_max_pixels} px; median of {args.repeats}")
    print_table(rows)
    four_k = rows[1]
    passed = four_k["time_ratio"] <= TARGET_TIME_RATIO and four_k["detail_ratio"] >= TARGET_DETAIL_RATIO
    print(
        f"4K targets (time <= {TARGET_TIME_RATIO}x, detail >= {TARGET_DETAIL_RATIO}x): {'met' if passed else 'MISSED'}"
    )
    return 0 if passed or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
