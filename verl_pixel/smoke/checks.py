"""The pass/fail rules of ``verl-pixel smoke`` and its table (pure: they read metrics, files and versions).

Each rule turns what a stage left behind (verl's ``file`` logger metrics, checkpoint folders, package versions,
the token-accounting probe's result) into a :class:`Check` row. The bounds and why:

* rollout-vs-actor probability gap (verl's ``training/rollout_probs_diff_max``): on CPU the actor and the ``hf``
  server both compute in fp32, so a healthy gap is float noise (<= 7.6e-10 measured) and a rollout engine left on
  stale weights shows ~7e-4 (benchmarks/results/rollout_sync_control.md); the bound 1e-6 sits between. On GPU vLLM
  samples in bf16 against an FSDP actor, so a healthy gap is not zero; the bound there is on the mean gap
  (``training/rollout_probs_diff_mean`` <= 0.02), a loose sanity bound not measured in this project (no GPU run
  yet): stale weights or misaligned image features move whole distributions, far past it.
* shaped rewards reached the trainer: the mean score verl trains on (``critic/score/mean``) equals the mean shaped
  reward verl-pixel's replay buffer logged for the step (``pixel/reward/total``), within float32 rounding.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

CPU_GAP_BOUND = 1e-6  # max |p_rollout - p_actor|, fp32 on both sides
GPU_MEAN_GAP_BOUND = 0.02  # mean |p_rollout - p_actor|, bf16 vLLM vs the FSDP actor
SCORE_TOLERANCE = 1e-5  # float32 rm_scores against the buffer's float64 mean


class Status(str, Enum):
    """A row's outcome; ``info`` rows report a measurement without a bound."""

    PASS = "PASS"
    FAIL = "FAIL"
    INFO = "info"
    SKIP = "skip"


@dataclasses.dataclass(frozen=True)
class Check:
    """One row of the smoke table."""

    name: str
    status: Status
    detail: str

    @classmethod
    def of(cls, name: str, ok: bool, detail: str) -> Check:
        """A pass/fail row."""
        return cls(name, Status.PASS if ok else Status.FAIL, detail)


def passed(checks: Sequence[Check]) -> bool:
    """No row failed (and at least one passed)."""
    return any(c.status is Status.PASS for c in checks) and not any(c.status is Status.FAIL for c in checks)


def format_table(checks: Sequence[Check]) -> str:
    """The checks as an aligned text table."""
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  ------"]
    lines += [f"{c.name:<{width}}  {c.status.value:<6}  {c.detail}" for c in checks]
    return "\n".join(lines)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Per-step metrics from verl's ``file`` logger (JSON lines ``{"step": n, "data": {...}}``)."""
    if not path.is_file():
        return []
    return [json.loads(line)["data"] for line in path.read_text().splitlines() if line.strip()]


def series(steps: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    """One metric over the logged steps that have it."""
    return [float(step[key]) for step in steps if key in step]


def versions_check(versions: Mapping[str, str | None], required: Sequence[str]) -> Check:
    """verl is the one this plugin targets and every package the chosen platform needs is installed."""
    missing = [name for name in required if not versions.get(name)]
    verl_ok = versions.get("verl") == "0.9.1"
    detail = ", ".join(f"{name} {version or 'missing'}" for name, version in versions.items())
    if not verl_ok:
        detail += " (verl-pixel targets verl 0.9.1)"
    return Check.of("install versions", verl_ok and not missing, detail)


def sft_checks(returncode: int, steps: Sequence[Mapping[str, Any]], expected_steps: int, export: Path) -> list[Check]:
    """The SFT recipe trained ``expected_steps`` finite steps and wrote the Hugging Face export GRPO starts from."""
    losses = series(steps, "train/loss")
    trained = returncode == 0 and len(losses) == expected_steps and all(math.isfinite(x) for x in losses)
    detail = f"exit {returncode}, train/loss {', '.join(f'{x:.4f}' for x in losses) or '-'}"
    return [
        Check.of("SFT recipe", trained, detail),
        Check.of("SFT Hugging Face export", (export / "config.json").is_file(), str(export)),
    ]


def grpo_checks(
    returncode: int, steps: Sequence[Mapping[str, Any]], expected: Mapping[str, float], platform: str
) -> list[Check]:
    """Rows from a GRPO recipe run's metrics.

    Args:
        returncode: the recipe's exit code.
        steps: its logged steps.
        expected: ``steps`` (training steps) and ``rollouts`` (per step: prompts x rollout.n).
        platform: ``cpu`` or ``gpu`` (which gap bound applies, module docstring).
    """
    n_steps, rollouts = int(expected["steps"]), float(expected["rollouts"])
    ran = returncode == 0 and len(steps) == n_steps
    checks = [Check.of("GRPO recipe", ran, f"exit {returncode}, {len(steps)} of {n_steps} steps logged")]
    # Presence (the layout's probes reached every group), not need(x) being defined: that depends on the model
    # obeying its mode, which a tiny random model need not do.
    defined, counts = series(steps, "pixel/probe/present_rate"), series(steps, "pixel/rollouts")
    checks.append(
        Check.of(
            "probes present",
            len(defined) == n_steps and all(x == 1.0 for x in defined) and counts == [rollouts] * n_steps,
            f"pixel/probe/present_rate {defined}, pixel/rollouts {counts}",
        )
    )
    trained, shaped = series(steps, "critic/score/mean"), series(steps, "pixel/reward/total")
    same = len(trained) == len(shaped) == n_steps and all(
        abs(a - b) <= SCORE_TOLERANCE for a, b in zip(trained, shaped, strict=True)
    )
    detail = f"critic/score/mean {_fmt(trained)} = pixel/reward/total {_fmt(shaped)}"
    checks.append(Check.of("shaped rewards reached the trainer", same, detail))
    checks.append(_gap_check(steps, n_steps, platform))
    return checks


def _gap_check(steps: Sequence[Mapping[str, Any]], n_steps: int, platform: str) -> Check:
    if platform == "cpu":
        gaps, bound, key = series(steps, "training/rollout_probs_diff_max"), CPU_GAP_BOUND, "max"
    else:
        gaps, bound, key = series(steps, "training/rollout_probs_diff_mean"), GPU_MEAN_GAP_BOUND, "mean"
    ok = len(gaps) == n_steps and all(gap <= bound for gap in gaps)
    return Check.of("rollout-vs-actor log-prob gap", ok, f"{key} |p_rollout - p_actor| {_fmt(gaps)} (bound {bound:g})")


def checkpoint_check(folder: Path) -> Check:
    """The GRPO recipe saved the actor at its last step."""
    return Check.of("checkpoint written", folder.is_dir() and any(folder.iterdir()), str(folder))


def accounting_check(result: Mapping[str, Any] | None, backend: str) -> Check:
    """The token-accounting probe's verdict (:mod:`verl_pixel.smoke.token_accounting`)."""
    if result is None:
        return Check.of("image-token accounting", False, "the probe did not report (see its log)")
    detail = f"{backend}: pad runs {result.get('pad_runs')} = image grids {result.get('image_tokens')}"
    if backend == "vllm":
        detail += f"; vLLM's re-expanded prompt equals the agent loop's ids: {result.get('vllm_prompt_equals')}"
    else:
        detail += f"; hf server generated from the agent loop's ids: {result.get('generated') == 1}"
    return Check.of("image-token accounting", bool(result.get("ok")), detail)


def _fmt(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{value:.4g}" for value in values) + "]"
