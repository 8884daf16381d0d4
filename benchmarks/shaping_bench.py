"""Group-shaping throughput: 100k rollouts per method, vectorized path vs the per-group reference.

Target: shaping 100k rollouts takes <= 100 ms (vectorized path, from columns). Also reported: the per-group
reference path (what the replay buffer runs group by group) and the cost of stacking ScoredRollout objects into
columns. Exits 1 if a method misses the target or the two paths disagree.

    .venv/bin/python benchmarks/shaping_bench.py [--rollouts 100000] [--repeats 7] [--skip-reference]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.batch_shaping import RolloutColumns, shape_columns
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaped_reward import ScoredRollout
from verl_pixel.reward.shaping import shape_group

TARGET_MS = 100.0
LOOK_LESS_LAYOUT = (RolloutMode.FORCE_TOOL,) * 4 + (RolloutMode.NO_TOOL,) * 4 + (RolloutMode.ADAPTIVE,) * 8
PIXEL_REASONER_LAYOUT = (RolloutMode.ADAPTIVE,) * 8
CASES = (
    ("look_less", {"method": "look_less"}, LOOK_LESS_LAYOUT),
    ("curiosity (paper)", {"method": "curiosity"}, PIXEL_REASONER_LAYOUT),
    (
        "curiosity (released code)",
        {"method": "curiosity", "curiosity": {"variant": "released_code"}},
        PIXEL_REASONER_LAYOUT,
    ),
    ("deepeyes", {"method": "deepeyes"}, PIXEL_REASONER_LAYOUT),
    ("none", {"method": "none"}, PIXEL_REASONER_LAYOUT),
)


def make_groups(layout: tuple[RolloutMode, ...], rollouts: int, seed: int) -> list[list[ScoredRollout]]:
    rng = random.Random(seed)
    groups = []
    for _ in range(rollouts // len(layout)):
        group = []
        for mode in layout:
            succeeded = 0 if mode is RolloutMode.NO_TOOL else rng.choice((0, 0, 1, 1, 2))
            failed = rng.choice((0, 0, 0, 1))
            record = TrajectoryRecord(
                mode=mode,
                complied=rng.random() < 0.9,
                ops_attempted=succeeded + failed,
                ops_succeeded=succeeded,
                ops_failed=failed,
            )
            group.append(ScoredRollout(record, float(rng.random() < 0.5), -1.0 if failed else 0.0))
        groups.append(group)
    return groups


def best_ms(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(min, median) wall time of ``repeats`` runs, in ms."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times), statistics.median(times)


def reference(groups: list[list[ScoredRollout]], config: ShapingConfig) -> list:
    return [shape_group(group, config) for group in groups]


def paths_agree(groups: list[list[ScoredRollout]], config: ShapingConfig, shaped) -> bool:
    row = 0
    for index, group in enumerate(groups[:500]):
        expected = shape_group(group, config)
        if shaped.groups.info(index) != expected.info:
            return False
        for reward in expected.rewards:
            if shaped.reward(row) != reward:
                return False
            row += 1
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-reference", action="store_true", help="do not time the per-group reference path")
    args = parser.parse_args()

    header = f"{'method':<27} {'n':>3} {'groups':>7} {'rollouts':>8} {'fast min':>9} {'fast med':>9} {'/100ms':>7}"
    header += f" {'stack':>8} {'reference':>10} {'speedup':>8}  agree"
    print(header)
    print("-" * len(header))
    ok = True
    for seed, (name, settings, layout) in enumerate(CASES):
        config = ShapingConfig.from_mapping(settings)
        groups = make_groups(layout, args.rollouts, seed)
        columns = RolloutColumns.from_groups(groups)
        stack_ms, _ = best_ms(lambda groups=groups: RolloutColumns.from_groups(groups), 1)
        fast_min, fast_med = best_ms(lambda c=columns, cfg=config: shape_columns(c, cfg), args.repeats)
        if args.skip_reference:
            ref_cells = f"{'-':>10} {'-':>8}"
        else:
            ref_ms = best_ms(lambda g=groups, cfg=config: reference(g, cfg), 1)[0]
            ref_cells = f"{ref_ms:>8.0f}ms {ref_ms / fast_med:>7.0f}x"
        agree = paths_agree(groups, config, shape_columns(columns, config))
        ok = ok and agree and fast_med <= TARGET_MS
        print(
            f"{name:<27} {len(layout):>3} {len(groups):>7} {len(columns.acc):>8} {fast_min:>7.1f}ms {fast_med:>7.1f}ms"
            f" {fast_med / TARGET_MS:>7.3f} {stack_ms:>6.0f}ms {ref_cells}  {agree}"
        )
    verdict = "PASS" if ok else "FAIL"
    print(f"\ntarget: vectorized shaping of {args.rollouts} rollouts <= {TARGET_MS:.0f} ms (median): {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
