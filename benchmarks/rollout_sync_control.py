"""Does the rollout-vs-actor log-prob gap catch stale rollout weights? A healthy run against a negative control.

Both runs are the end-to-end test's run (``tests/backends/test_main_ppo_cpu.py``): verl's ``main_ppo`` on CPU with
``verl_pixel/configs/cpu/grpo_cpu.yaml`` and forced first-turn tool calls (the ``hf`` backend's test hook). The
control loads :mod:`verl_pixel.testing.stale_rollout_weights` in every process (``VERL_USE_EXTERNAL_MODULES``), so
the rollout keeps the weights of the first sync while the actor trains: from step 2 on it samples from a stale
policy. Printed: verl's ``training/rollout_probs_diff_max`` / ``_mean`` (|p_rollout - p_actor| over response tokens,
``verl.utils.debug.metrics``) per step, both runs; the test's bound must sit between them with margin.

    .venv/bin/python benchmarks/rollout_sync_control.py --workdir /tmp/sync_control [--steps 3] [hydra overrides...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from verl_pixel.quickstart.grpo_cpu import GRPOSmokeResult, run_grpo_smoke
from verl_pixel.testing.forced_tool_calls import forced_tool_call_overrides

STALE_ENV = {"VERL_USE_EXTERNAL_MODULES": "verl_pixel.testing.stale_rollout_weights"}
METRICS = ("training/rollout_probs_diff_max", "training/rollout_probs_diff_mean", "actor/grad_norm")


def table(runs: dict[str, GRPOSmokeResult]) -> str:
    """One markdown row per (run, step)."""
    lines = ["| run | step | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    for name, result in runs.items():
        for step, metrics in enumerate(result.steps, 1):
            cells = " | ".join(f"{metrics[key]:.3g}" if key in metrics else "-" for key in METRICS)
            lines.append(f"| {name} | {step} | {cells} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="extra hydra overrides for both runs")
    args = parser.parse_args()
    overrides = [*forced_tool_call_overrides(), *args.overrides]
    runs: dict[str, GRPOSmokeResult] = {}
    for name, env in (("healthy", {}), ("stale weights", STALE_ENV)):
        start = time.perf_counter()
        runs[name] = run_grpo_smoke(Path(args.workdir) / name.split()[0], args.steps, 1500, overrides, env)
        print(f"{name}: exit {runs[name].returncode}, {time.perf_counter() - start:.0f} s", flush=True)
    print(table(runs))
    return 0 if all(result.ok for result in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
