"""The quick start: the look-or-not pipeline at smoke size — SFT, verl's export, GRPO from it — on CPU, offline.

``verl-pixel quickstart`` runs :func:`verl_pixel.quickstart.look_or_not.run_experiment` on a small sample of the
look-or-not task (1600x1200 images; a pattern question needs a zoom, a colour question does not):

1. draw the task, synthesize operation-aware SFT trajectories, build a small Qwen2.5-VL from the tiny kit;
2. ``torchrun -m verl.trainer.sft_trainer`` with ``PixelSFTDataset`` (FSDP2 over gloo); verl exports the checkpoint
   as a Hugging Face folder (``checkpoint.save_contents`` with ``hf_model``);
3. ``verl.trainer.main_ppo`` GRPO **from that export** with ``pixel_agent``, the ``pixel`` reward with Look Less
   shaping (force_tool / no_tool probes next to the adaptive rollouts) and the ``hf`` rollout backend; the held-out
   test split is verl's validation set, evaluated before the first step and after the last.

What it shows: every stage runs through verl's own trainers and hands over to the next, and the report gives the
tool use the model chose on the test split, split by whether the question needs a zoom. What it does not show:
learning. A few SFT steps on a few dozen images cannot teach the task, so the numbers describe this barely trained
model; ``benchmarks/adaptive_learning.py`` is the experiment (results in ``benchmarks/results/``). No test hook
forces a tool call anywhere (``grpo_cpu.yaml`` leaves the ``hf`` backend's nudge off).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from verl_pixel.data.look_or_not import LookOrNotSpec
from verl_pixel.data.look_or_not_sets import LookOrNotRun
from verl_pixel.eval.adaptive_report import NEED, NO_NEED, EvalPoint, eval_points
from verl_pixel.quickstart.look_or_not import ExperimentConfig, ExperimentResult, GRPOSettings, run_experiment
from verl_pixel.quickstart.sft import SFTSettings

logger = logging.getLogger(__name__)

METHOD = "look_less"
GRPO_COLUMNS = (
    ("pixel/rollouts", "rollouts"),
    ("critic/score/mean", "score"),
    ("pixel/rapr", "RaPR"),
    ("pixel/rapr/adaptive", "TUR adaptive"),
    ("pixel/ops/succeeded", "ops ok/resp"),
    ("pixel/probe/need_rate", "need(x)"),
    ("training/rollout_probs_diff_max", "rollout-actor gap"),
)


def quickstart_config(sft_steps: int = 8, grpo_steps: int = 2) -> ExperimentConfig:
    """The quick start's sizes: 64 training images, 16 test images, one Look Less GRPO run."""
    return ExperimentConfig(
        run=LookOrNotRun(spec=LookOrNotSpec(n_train=64, n_val=8, n_test=16)),
        sft=SFTSettings(steps=sft_steps, train_batch_size=8, micro_batch_size=8, lr=2e-3, max_length=1024),
        grpo=GRPOSettings(
            steps=grpo_steps, prompts_per_step=2, rollouts_per_prompt=4, test_freq=grpo_steps, export_hf=True
        ),
        methods=(METHOD,),
        sft_timeout_s=900,
        grpo_timeout_s=900,
    )


@dataclasses.dataclass(frozen=True)
class QuickstartReport:
    """What the quick start ran and produced."""

    workdir: Path
    result: ExperimentResult
    evals: list[EvalPoint]

    @property
    def ok(self) -> bool:
        """Every stage exited 0 with finite metrics, and the test split was evaluated."""
        return self.result.ok and METHOD in self.result.grpo and bool(self.evals)


def run_quickstart(workdir: str | os.PathLike, sft_steps: int = 8, grpo_steps: int = 2) -> QuickstartReport:
    """Run the pipeline under ``workdir``."""
    work = Path(workdir).resolve()
    result = run_experiment(work, quickstart_config(sft_steps, grpo_steps))
    grpo = result.grpo.get(METHOD)
    evals = eval_points(grpo.metrics_file) if grpo is not None and grpo.metrics_file.is_file() else []
    return QuickstartReport(work, result, evals)


def format_report(report: QuickstartReport) -> str:
    """A short text report: stages, outputs, metrics tables, the chosen tool use split by need, next steps."""
    sft = report.result.sft
    lines = [f"verl-pixel quick start — {'OK' if report.ok else 'FAILED'} (outputs under {report.workdir})", ""]
    lines.append(f"SFT  verl.trainer.sft_trainer, PixelSFTDataset, FSDP2/gloo: exit {sft.returncode}")
    lines.append(f"     {'step':>4}  {'train/loss':>10}")
    lines += [f"     {i + 1:>4}  {loss:>10.4f}" for i, loss in enumerate(sft.train_losses)]
    lines.append(f"     val/loss {', '.join(f'{x:.4f}' for x in sft.val_losses) or '-'}")
    lines.append(f"     exported by verl (checkpoint.save_contents hf_model): {sft.hf_dir}")
    lines.append(f"     log {sft.log_file}")
    grpo = report.result.grpo.get(METHOD)
    if grpo is not None:
        lines += [
            "",
            f"GRPO verl.trainer.main_ppo from the SFT export, pixel_agent + pixel reward (Look Less), hf rollout: "
            f"exit {grpo.returncode}",
            "     tool calls are the model's own choice (no forced calls)",
            "     " + f"{'step':>4}  " + "  ".join(f"{label:>17}" for _, label in GRPO_COLUMNS),
        ]
        for i, step in enumerate(grpo.training_steps):
            cells = "  ".join(f"{step.get(key, float('nan')):>17.4g}" for key, _ in GRPO_COLUMNS)
            lines.append(f"     {i + 1:>4}  {cells}")
        lines.append(f"     metrics {grpo.metrics_file}; log {grpo.log_file}")
    lines += ["", "Test split (held out; sampled at the training temperature): what the model chose"]
    lines.append(f"     {'step':>4}  {'TUR need':>8}  {'TUR no-need':>11}  {'acc need':>8}  {'acc no-need':>11}")
    for point in report.evals:
        lines.append(
            f"     {point.step:>4}  {point.tur[NEED]:>8.3f}  {point.tur[NO_NEED]:>11.3f}  "
            f"{point.accuracy[NEED]:>8.3f}  {point.accuracy[NO_NEED]:>11.3f}"
        )
    lines += [
        "     step 0 is the SFT export before any GRPO step. This is a wiring run on 64 images: it shows the stages",
        "     connect, not that the reward teaches when to look; see benchmarks/results/adaptive_learning.md.",
        "",
        "Next: the GPU recipes in recipes/ (sft_qwen25vl7b.sh, sft_qwen3vl8b.sh, grpo_adaptive.sh, grpo_curiosity.sh,",
        "grpo_deepeyes.sh; MODEL_FAMILY=qwen3_vl for Qwen3-VL); `verl-pixel view` renders trajectories;",
        "`verl-pixel eval` runs benchmarks.",
    ]
    return "\n".join(lines)
