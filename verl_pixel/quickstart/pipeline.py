"""The quick start pipeline: synthesize SFT trajectories, verl's SFT trainer, then verl's GRPO — on CPU, offline.

``verl-pixel quickstart`` runs, on the bundled seed sample (procedurally drawn high-resolution images whose
answers are legible only when zoomed):

1. operation-aware trajectory synthesis (single-pass, recrop, further zoom-in, reselect, text-only);
2. a few steps of ``torchrun -m verl.trainer.sft_trainer`` with ``PixelSFTDataset`` (FSDP2 over gloo);
3. a couple of ``verl.trainer.main_ppo`` GRPO steps with ``pixel_agent``, the ``pixel`` reward with Look Less
   shaping and the ``hf`` rollout backend (:mod:`verl_pixel.quickstart.grpo_cpu`);

and reports what ran, where the outputs are, and the metrics per step. GRPO starts from the tiny base model, not
the SFT checkpoint: verl's SFT checkpoint keeps weights sharded, and merging them is out of scope for a smoke run.
No test hook forces tool calls (``verl_pixel/configs/cpu/grpo_cpu.yaml`` leaves the ``hf`` backend's nudge off), so
the RaPR / TUR columns are the model's own choices; for the random-weight tiny model they are expected to be 0.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from verl_pixel.model_family import ModelFamily, family_spec
from verl_pixel.quickstart.grpo_cpu import GRPOSmokeResult, run_grpo_smoke
from verl_pixel.quickstart.sft import SFTSmokeResult, run_sft_smoke

logger = logging.getLogger(__name__)

GRPO_COLUMNS = (
    ("pixel/rollouts", "rollouts"),
    ("critic/score/mean", "score"),
    ("pixel/rapr", "RaPR"),
    ("pixel/rapr/adaptive", "TUR adaptive"),
    ("pixel/ops/succeeded", "ops ok/resp"),
    ("pixel/probe/need_rate", "need(x)"),
    ("training/rollout_probs_diff_max", "rollout-actor gap"),
)


@dataclasses.dataclass(frozen=True)
class QuickstartReport:
    """What the quick start ran and produced."""

    workdir: Path
    sft: SFTSmokeResult
    grpo: GRPOSmokeResult | None
    family: ModelFamily = ModelFamily.QWEN2_5_VL

    @property
    def ok(self) -> bool:
        """Both stages exited 0 with finite metrics (GRPO only if it ran)."""
        return self.sft.ok and (self.grpo is None or self.grpo.ok)


def run_quickstart(
    workdir: str | os.PathLike,
    sft_steps: int = 3,
    grpo_steps: int = 2,
    family: str | ModelFamily = ModelFamily.QWEN2_5_VL,
) -> QuickstartReport:
    """Run the pipeline under ``workdir`` with ``family``'s tiny model (``grpo_steps=0`` skips GRPO)."""
    from verl_pixel.data.smoke_sample import SMOKE_MAX_LENGTH

    family = family_spec(family).family
    work = Path(workdir).resolve()
    logger.info("1/2 synthesizing SFT trajectories and training with verl.trainer.sft_trainer (%d steps)", sft_steps)
    sft = run_sft_smoke(work / "sft", steps=sft_steps, max_length=SMOKE_MAX_LENGTH, family=family)
    grpo = None
    if grpo_steps > 0 and sft.ok:
        logger.info("2/2 GRPO with verl.trainer.main_ppo (%d steps; pixel_agent, pixel reward, hf rollout)", grpo_steps)
        grpo = run_grpo_smoke(work / "grpo", steps=grpo_steps, family=family)
    return QuickstartReport(work, sft, grpo, family)


def format_report(report: QuickstartReport) -> str:
    """A short text report: stages, outputs, metrics tables, next steps."""
    sft = report.sft
    lines = [f"verl-pixel quick start — {'OK' if report.ok else 'FAILED'} (outputs under {report.workdir})", ""]
    lines.append(f"model family {report.family.value}: tiny {family_spec(report.family).processor_class} kit")
    lines.append(f"SFT  verl.trainer.sft_trainer, PixelSFTDataset, FSDP2/gloo: exit {sft.returncode}")
    lines.append(f"     {'step':>4}  {'train/loss':>10}")
    lines += [f"     {i + 1:>4}  {loss:>10.4f}" for i, loss in enumerate(sft.train_losses)]
    lines.append(
        f"     val/loss {', '.join(f'{x:.4f}' for x in sft.val_losses) or '-'}; checkpoint {sft.checkpoint_dir}"
    )
    lines.append(f"     log {sft.log_file}")
    if report.grpo is not None:
        grpo = report.grpo
        lines += [
            "",
            f"GRPO verl.trainer.main_ppo, pixel_agent + pixel reward (Look Less), hf rollout: exit {grpo.returncode}",
            "     tool calls are the model's own choice (no forced calls); it starts from the random tiny model, "
            "not from the SFT checkpoint",
        ]
        lines.append("     " + f"{'step':>4}  " + "  ".join(f"{label:>17}" for _, label in GRPO_COLUMNS))
        for i, step in enumerate(grpo.steps):
            cells = "  ".join(f"{step.get(key, float('nan')):>17.4g}" for key, _ in GRPO_COLUMNS)
            lines.append(f"     {i + 1:>4}  {cells}")
        lines.append(f"     metrics {grpo.metrics_file}; log {grpo.log_file}")
    lines += [
        "",
        "Next: the GPU recipes in recipes/ (sft_qwen25vl7b.sh, sft_qwen3vl8b.sh, grpo_adaptive.sh, grpo_curiosity.sh,",
        "grpo_deepeyes.sh; MODEL_FAMILY=qwen3_vl for Qwen3-VL); `verl-pixel view` renders trajectories;",
        "`verl-pixel eval` runs benchmarks.",
    ]
    return "\n".join(lines)
