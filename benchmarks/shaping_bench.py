"""Group-step throughput on the production path, against verl's own GRPO advantage step in the same process.

What the replay buffer runs per step: :func:`shape_stored_groups` over the stored trajectories (keys and
``extra_fields`` as verl's TransferQueue holds them) plus :func:`step_metrics`. Baseline: verl's
``compute_grpo_outcome_advantage`` over the same number of rollouts, the step our group step precedes. The ratio
says what the group step adds to the advantage stage. Target: <= 500 ms per 8,192 rollouts (a 512-prompt × 16
step, well under 1% of a GPU step's generation time); exits 1 if a method misses it. The buffer shapes each group as
it finishes, so in a run this cost is spread over the step rather than paid at once.

    .venv/bin/python benchmarks/shaping_bench.py [--rollouts 8192] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.group_step import REWARD_EXTRA_INFO, shape_stored_groups
from verl_pixel.reward.shaping.metrics import step_metrics

TARGET_MS_PER_8192 = 500.0
RESPONSE_LENGTH = 256
LOOK_LESS_LAYOUT = (RolloutMode.ADAPTIVE,) * 8 + (RolloutMode.FORCE_TOOL,) * 4 + (RolloutMode.NO_TOOL,) * 4
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


def stored_trajectories(layout: tuple[RolloutMode, ...], rollouts: int, seed: int) -> tuple[list[str], list[dict]]:
    """Keys ``{uid}_{session}_0`` and ``extra_fields`` as the agent loop and the ``pixel`` manager store them."""
    rng = random.Random(seed)
    keys, extra_fields = [], []
    for prompt in range(rollouts // len(layout)):
        for session, mode in enumerate(layout):
            succeeded = 0 if mode is RolloutMode.NO_TOOL else rng.choice((0, 0, 1, 1, 2))
            failed = rng.choice((0, 0, 0, 1))
            record = TrajectoryRecord(
                mode=mode,
                complied=rng.random() < 0.9,
                ops_attempted=succeeded + failed,
                ops_succeeded=succeeded,
                ops_failed=failed,
            ).to_extra_fields()
            scores = {"pixel/acc": float(rng.random() < 0.5), "pixel/fmt": -1.0 if failed else 0.0}
            keys.append(f"prompt-{prompt}_{session}_0")
            extra_fields.append({**record, REWARD_EXTRA_INFO: {**record, **scores}})
    return keys, extra_fields


def timed_ms(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` runs, in ms."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def grpo_baseline_ms(keys: list[str], repeats: int) -> float:
    """verl's GRPO outcome advantage over the same rollouts (scores at the last token, as verl stores them)."""
    n = len(keys)
    scores = torch.zeros(n, RESPONSE_LENGTH)
    scores[:, -1] = torch.rand(n, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(n, RESPONSE_LENGTH)
    index = np.array([key.rsplit("_", 2)[0] for key in keys], dtype=object)
    return timed_ms(lambda: compute_grpo_outcome_advantage(scores, mask, index), repeats)


def group_step(keys: list[str], extra_fields: list[dict], config: ShapingConfig) -> dict[str, float]:
    result = shape_stored_groups(keys, extra_fields, config)
    return step_metrics(list(result.groups.values()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    header = f"{'method':<27} {'n':>3} {'rollouts':>8} {'group step':>11} {'verl GRPO':>10} {'ratio':>7} {'ms/8192':>8}"
    print(header)
    print("-" * len(header))
    ok = True
    for seed, (name, settings, layout) in enumerate(CASES):
        config = ShapingConfig.from_mapping(settings)
        keys, extra_fields = stored_trajectories(layout, args.rollouts, seed)
        ours = timed_ms(lambda k=keys, e=extra_fields, c=config: group_step(k, e, c), args.repeats)
        verl_ms = grpo_baseline_ms(keys, args.repeats)
        per_8192 = ours * 8192 / len(keys)
        ok = ok and per_8192 <= TARGET_MS_PER_8192
        print(
            f"{name:<27} {len(layout):>3} {len(keys):>8} {ours:>9.1f}ms {verl_ms:>8.1f}ms {ours / verl_ms:>6.2f}x"
            f" {per_8192:>8.1f}"
        )
    verdict = "PASS" if ok else "FAIL"
    print(f"\ntarget: group step <= {TARGET_MS_PER_8192:.0f} ms per 8192 rollouts (median): {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
