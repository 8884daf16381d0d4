"""Peak host memory of concurrent trajectories cropping from 8K originals: shared cache vs per-trajectory vs model view.

Scenario (the GRPO worst case of reliability_probes.md §4): P prompts x R rollouts alive at once in one agent-loop
worker, each prompt a distinct 7680x4320 JPEG referenced by path (rows prepared with ``--no-embed-images``). Each
trajectory builds its model view as ``PixelRLDataset`` does (decode, resize to 1,568,000 px) and makes one detail
crop (a quarter of the view a side, at a position that varies with the rollout) through the tools' session layer
(:func:`verl_pixel.tools.session.answer_call`, the path verl's tools take); all trajectories stay alive until the end.

Cases, each in a fresh subprocess (its peak RSS, ``ru_maxrss``, is the case's alone):

* ``model_view``: ``crop_source: model_view`` (no originals), the baseline;
* ``shared``: ``crop_source: original`` with the worker's shared originals cache (this code);
* ``per_trajectory``: ``crop_source: original`` as before the cache: every trajectory decodes its own original when
  it first crops and keeps it (the old ``load_originals``, reproduced below).

"originals memory" of a case = its peak RSS minus the model_view peak at the same size. ``per_trajectory`` at 128
trajectories needs ~18 GB, more than this 23 GB machine shared by five people has free, so it is measured at 16 and
32 trajectories (8 prompts x 2 and x 4) and extrapolated linearly to 128 from its per-trajectory cost at 32 (the
table shows both points, so the linearity can be judged); a case whose estimate exceeds the free memory is skipped.

Targets (issue 16): shared originals memory <= 1/8 of per_trajectory's, and shared peak <= 1.5x model_view's, at 128.

Run: python benchmarks/originals_memory_bench.py [--prompts 8] [--rollouts 16] [--out FILE.md] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

SIZE = (7680, 4320)
TARGET_ORIGINALS_RATIO = 1 / 8
TARGET_PEAK_RATIO = 1.5
PER_TRAJECTORY_ESTIMATE_MB = 150  # measured ~137 MB (reliability_probes.md §4): the guard's estimate
CASES = ("model_view", "shared", "per_trajectory")


def write_images(folder: Path, count: int) -> list[str]:
    """``count`` distinct 7680x4320 JPEGs (smooth gradients plus a per-image pattern), written once."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"original_{index}.jpg"
        if not path.is_file():
            x = np.arange(SIZE[0], dtype=np.int32)[None, :]
            y = np.arange(SIZE[1], dtype=np.int32)[:, None]
            channels = [(x // 30 + index * 40) % 256 + 0 * y, (y // 17) % 256 + 0 * x, ((x + y) // 50 + index) % 256]
            pixels = np.stack([channel.astype(np.uint8) for channel in channels], -1)
            Image.fromarray(pixels).save(path, format="JPEG", quality=90)
        paths.append(str(path))
    return paths


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_case(case: str, paths: list[str], rollouts: int) -> dict[str, float]:
    """One case in this process: P x R trajectories alive at once, one crop each; returns memory and time."""
    from verl_pixel.data.images import load_image
    from verl_pixel.data.rl_dataset import model_view
    from verl_pixel.ops import ToolCall, VisualOpsConfig
    from verl_pixel.tools import session
    from verl_pixel.tools.original_cache import shared_cache

    if case == "per_trajectory":  # the old load_originals: every trajectory decodes and keeps its own original
        session.load_originals = lambda agent_data, expected: [load_image(ref) for ref in _refs(agent_data)]
    source = "model_view" if case == "model_view" else "original"
    config = VisualOpsConfig(coordinates="normalized", padding=0.0, crop_source=source)
    baseline = rss_mb()
    trajectories = [_trajectory(path) for path in paths for _ in range(rollouts)]
    started = time.perf_counter()

    async def run_all() -> list:
        async def one(index: int, agent_data: SimpleNamespace):
            item = agent_data.messages[0]["content"][0]
            view = await asyncio.to_thread(model_view, item, config.factor, {"max_pixels": config.image_max_pixels})
            agent_data.image_data = [view]
            x, y = (index % 4) * 0.25, ((index // 4) % 4) * 0.25  # sixteen different quarters of the image
            call = ToolCall("crop_image", {"bbox_2d": [x, y, x + 0.25, y + 0.25]})
            return await session.answer_call(agent_data, config, call)

        return await asyncio.gather(*(one(i, t) for i, t in enumerate(trajectories)))

    results = asyncio.run(run_all())
    assert all(result.ok for result in results), [result for result in results if not result.ok][:1]
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    cache = shared_cache()
    return {
        "trajectories": len(trajectories),
        "baseline_mb": baseline,
        "peak_mb": peak,
        "held_mb": rss_mb(),
        "cache_mb": cache.held_bytes / 2**20,
        "seconds": elapsed,
    }


def _trajectory(path: str) -> SimpleNamespace:
    prompt = [{"role": "user", "content": [{"type": "image", "image": path}, {"type": "text", "text": "?"}]}]
    return SimpleNamespace(image_data=[], messages=prompt, tools_kwargs={}, extra_fields={})


def _refs(agent_data: SimpleNamespace) -> list:
    from verl_pixel.tools.originals import original_image_refs

    return original_image_refs(agent_data)


def measure(case: str, paths: list[str], rollouts: int) -> dict[str, float] | None:
    """Run one case in a fresh subprocess; ``None`` when it would not fit in the free memory."""
    import psutil

    if case == "per_trajectory":
        needed = len(paths) * rollouts * PER_TRAJECTORY_ESTIMATE_MB + 1024
        free = psutil.virtual_memory().available / 2**20
        if needed > 0.8 * free:
            print(f"skip {case} at {len(paths)}x{rollouts}: ~{needed:.0f} MB needed, {free:.0f} MB free", flush=True)
            return None
    command = [sys.executable, __file__, "--case", case, "--rollouts", str(rollouts), "--paths", *paths]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{case:>15} {len(paths)}x{rollouts}: {json.dumps(result)}", flush=True)
    return result


def report(runs: dict[tuple[str, int], dict[str, float] | None], prompts: int, rollouts: int) -> tuple[str, bool]:
    """The results table and the two ratios against their targets."""
    n_full = prompts * rollouts
    lines = [
        "| case | trajectories | peak RSS MB | originals MB (peak - model_view peak) | per trajectory MB | held MB "
        "| decoded originals in cache MB | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (case, n), run in sorted(runs.items(), key=lambda item: (CASES.index(item[0][0]), item[0][1])):
        if run is None:
            lines.append(f"| {case} | {n} | skipped (would not fit) | | | | | |")
            continue
        base = runs.get(("model_view", n))
        originals = run["peak_mb"] - base["peak_mb"] if base else float("nan")
        lines.append(
            f"| {case} | {n} | {run['peak_mb']:.0f} | {originals:.0f} | {originals / n:.1f} | {run['held_mb']:.0f} "
            f"| {run['cache_mb']:.0f} | {run['seconds']:.1f} |"
        )
    view, shared = runs[("model_view", n_full)], runs[("shared", n_full)]
    shared_originals = shared["peak_mb"] - view["peak_mb"]
    today = runs.get(("per_trajectory", n_full))
    if today is not None:
        today_originals, how = today["peak_mb"] - view["peak_mb"], "measured"
    else:
        n_point = max(n for (case, n), run in runs.items() if case == "per_trajectory" and run is not None)
        point = runs[("per_trajectory", n_point)]
        slope = (point["peak_mb"] - runs[("model_view", n_point)]["peak_mb"]) / n_point
        today_originals, how = slope * n_full, f"extrapolated from {n_point} trajectories ({slope:.1f} MB each)"
    originals_ratio = shared_originals / today_originals
    peak_ratio = shared["peak_mb"] / view["peak_mb"]
    ok = originals_ratio <= TARGET_ORIGINALS_RATIO and peak_ratio <= TARGET_PEAK_RATIO
    lines += [
        "",
        f"At {n_full} trajectories ({prompts} prompts x {rollouts} rollouts, {SIZE[0]}x{SIZE[1]} JPEGs by path):",
        f"- originals memory, shared / per trajectory: {shared_originals:.0f} / {today_originals:.0f} MB = "
        f"**{originals_ratio:.3f}** (target <= {TARGET_ORIGINALS_RATIO:.3f}; per trajectory {how})",
        f"- peak RSS, shared / model_view: {shared['peak_mb']:.0f} / {view['peak_mb']:.0f} MB = **{peak_ratio:.2f}** "
        f"(target <= {TARGET_PEAK_RATIO})",
    ]
    return "\n".join(lines), ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--rollouts", type=int, default=16)
    parser.add_argument("--small-rollouts", type=int, nargs="+", default=[2, 4], help="sizes for per_trajectory")
    parser.add_argument("--workdir", default="/tmp/verl_pixel_originals_bench")
    parser.add_argument("--out", help="write the table (markdown) here")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # one case, in a subprocess
    parser.add_argument("--paths", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.paths, args.rollouts)))
        return 0
    started = time.perf_counter()
    paths = write_images(Path(args.workdir), args.prompts)
    runs: dict[tuple[str, int], dict[str, float] | None] = {}
    for rollouts in sorted({*args.small_rollouts, args.rollouts}):
        for case in CASES:  # every case at every size: per_trajectory's originals are measured against model_view's
            runs[(case, args.prompts * rollouts)] = measure(case, paths, rollouts)
    table, ok = report(runs, args.prompts, args.rollouts)
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    described = "\n\n".join(__doc__.split("\n\n")[1:5])  # scenario, cases, how originals memory is counted
    text = (
        f"# Originals memory: shared cache vs per-trajectory decoding vs model view\n\n{described}\n\n"
        f"Command: `python benchmarks/{command}`; each case a fresh subprocess (peak = its ru_maxrss); no seed "
        f"(deterministic images and boxes); total wall time {time.perf_counter() - started:.0f} s on "
        f"{os.cpu_count()} CPU cores.\n\n{table}\n\nTargets {'met' if ok else 'NOT met'}.\n"
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
