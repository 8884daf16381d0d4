"""Does the reward teach *when* to look? SFT, then GRPO with three rewards, on the look-or-not task, on CPU.

One small Qwen2.5-VL (config-built, ~1.4 M parameters) is trained by verl's SFT trainer on synthesized trajectories
(zoom on most need questions, text-only on most no-need questions), exported by verl as a Hugging Face folder, and
trained from that export by verl's GRPO (``main_ppo``, ``hf`` rollout backend) three times with the same seeds and
steps: ``pixel.reward.method`` = ``none`` (accuracy only), ``curiosity`` (Pixel Reasoner) and ``look_less``
(dual-rollout probes). The held-out test split is verl's validation set; accuracy and TUR are split by whether the
question needs a zoom. Prints the label check (oracles from the view vs from the crop), the table (start = the SFT
model, end = the last step) and the step at which each run's tool use separated; writes a PNG plot and a markdown
report.

    python benchmarks/adaptive_learning.py --workdir outputs/adaptive --report benchmarks/results/adaptive_learning.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import threading
import time
from pathlib import Path

from verl_pixel.data.look_or_not import LookOrNotSpec, load_target_boxes
from verl_pixel.data.look_or_not_check import check_labels, format_oracle_table, pattern_view_spread
from verl_pixel.data.look_or_not_sets import LookOrNotRun
from verl_pixel.data.seeds import read_seeds
from verl_pixel.eval.adaptive_report import eval_points, format_table, plot_curves, separation_step
from verl_pixel.quickstart.look_or_not import METHOD_VARIANTS, METHODS, ExperimentConfig, GRPOSettings, run_experiment
from verl_pixel.quickstart.sft import SFTSettings


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


class _Progress(threading.Thread):
    """Prints each GRPO step (and its validation) as verl's file logger writes it, for every method's run."""

    def __init__(self, grpo_dir: Path, steps: int) -> None:
        super().__init__(daemon=True)
        self.grpo_dir, self.steps = grpo_dir, steps
        self.stop = threading.Event()
        self.seen: dict[Path, int] = {}

    def run(self) -> None:
        while not self.stop.wait(5.0):
            for path in sorted(self.grpo_dir.glob("*/grpo_metrics.jsonl")):
                lines = [line for line in path.read_text().splitlines() if line.strip()]
                for line in lines[self.seen.get(path, 0) :]:
                    _log(f"  {path.parent.name} " + _step_line(json.loads(line), self.steps))
                self.seen[path] = len(lines)


def _step_line(record: dict, steps: int) -> str:
    data = record["data"]
    cells = [f"step {record['step']}/{steps}"]
    if "critic/score/mean" in data:
        cells.append(f"score {data['critic/score/mean']:.3f}, RaPR {data.get('pixel/rapr', float('nan')):.2f}")
    for subset in ("need", "no_need"):
        tur = [v for k, v in data.items() if k.startswith(f"val-aux/lookornot/{subset}/pixel/used_tool/mean@")]
        acc = [v for k, v in data.items() if k.startswith(f"val-core/lookornot/{subset}/acc/mean@")]
        if tur and acc:
            cells.append(f"test {subset}: acc {acc[0]:.2f} TUR {tur[0]:.2f}")
    return "; ".join(cells)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("outputs/adaptive"))
    parser.add_argument("--report", type=Path, default=None, help="markdown report to write (plot next to it)")
    parser.add_argument("--seed", type=int, default=0, help="task images, synthesis and every run seed offset")
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-test", type=int, default=96)
    parser.add_argument("--sft-epochs", type=int, default=2)
    parser.add_argument("--sft-lr", type=float, default=2e-3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--test-freq", type=int, default=4)
    parser.add_argument("--prompts-per-step", type=int, default=8)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--val-samples", type=int, default=1)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHOD_VARIANTS))
    parser.add_argument("--oracle-fit", type=int, default=200, help="training images the label classifier sees")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="redo the data and SFT stages even if the workdir holds them (same settings)",
    )
    return parser.parse_args()


def main() -> int:
    args = _args()
    work = args.workdir.resolve()
    load_start = _load()
    _log(f"start; {load_start}")
    config = _experiment_config(args)
    progress = _Progress(work / "grpo", args.steps)
    progress.start()
    started = time.monotonic()
    result = run_experiment(work, config, progress=_log, reuse_stages=not args.fresh)
    progress.stop.set()
    # The pipeline's wall time: every stage as measured, reused ones as measured when they ran.
    total = sum(result.seconds.values())
    invocation = time.monotonic() - started
    if not result.ok:
        _log(f"a stage failed: SFT exit {result.sft.returncode} (log {result.sft.log_file}); GRPO "
             + ", ".join(f"{m} exit {r.returncode} (log {r.log_file})" for m, r in result.grpo.items()))  # fmt: skip
        return 1
    sft = result.sft
    _log(f"SFT loss {sft.train_losses[0]:.3f} -> {sft.train_losses[-1]:.3f}, val {sft.val_losses}; {sft.hf_dir}")
    t = time.monotonic()
    oracle_table = _label_check(result.files.seeds_dir, config.run, args.oracle_fit)
    print(oracle_table, flush=True)
    times = {**result.seconds, "label check": time.monotonic() - t}
    runs = {method: eval_points(grpo.metrics_file) for method, grpo in result.grpo.items()}
    table = format_table(runs, config.run.view_tokens)
    separation = {method: separation_step(points) for method, points in runs.items()}
    print(table)
    for method, step in separation.items():
        print(f"{method}: TUR(need) >= 0.9 and TUR(no-need) <= 0.1 from step {step} on" if step is not None
              else f"{method}: tool use never separated (TUR(need) >= 0.9 and TUR(no-need) <= 0.1)")  # fmt: skip
    load_end = _load()
    _log(f"done: pipeline {total / 60:.1f} min, this invocation {invocation / 60:.1f} min (label check excluded); "
         f"{load_end}")  # fmt: skip
    if args.report:
        plot = plot_curves(runs, args.report.with_suffix(".png"), title="look-or-not: GRPO from the SFT export")
        train_steps = {method: grpo.training_steps for method, grpo in result.grpo.items()}
        header = _report_header(args, config, times, total, (load_start, load_end), result.reused)
        _write_report(args.report, header, oracle_table, config, sft, runs, train_steps, table, separation, plot)
        _log(f"report {args.report}, plot {plot}")
    return 0


def _experiment_config(args: argparse.Namespace) -> ExperimentConfig:
    run = LookOrNotRun(spec=LookOrNotSpec(n_train=args.n_train, n_test=args.n_test, seed=args.seed), seed=args.seed)
    return ExperimentConfig(
        run=run,
        sft=SFTSettings(steps=None, epochs=args.sft_epochs, train_batch_size=16, micro_batch_size=16,
                        lr=args.sft_lr, lr_scheduler="cosine", warmup_ratio=0.05, max_length=1024,
                        seed=args.seed + 1),
        grpo=GRPOSettings(steps=args.steps, prompts_per_step=args.prompts_per_step, rollouts_per_prompt=args.rollouts,
                          lr=args.lr, test_freq=args.test_freq, val_samples=args.val_samples,
                          data_seed=args.seed + 1, rollout_seed=args.seed + 42),
        methods=tuple(args.methods),
    )  # fmt: skip


def _label_check(seeds_dir: Path, run: LookOrNotRun, oracle_fit: int) -> str:
    """Oracles that see the model's view vs the crop (test split), and the view's repaint spread, as text."""
    _log("label check: oracles that see the model's view vs the crop of the named quadrant (test split)")
    fit = read_seeds(seeds_dir / "train" / "seeds.jsonl")[:oracle_fit]
    test = read_seeds(seeds_dir / "test" / "seeds.jsonl")
    boxes = load_target_boxes(seeds_dir)
    need = [seed for seed in test if seed.needs_zoom]
    spread = max(pattern_view_spread(seed, boxes[seed.seed_id], run.spec.pattern_period, run.ops()) for seed in need)
    return format_oracle_table(check_labels(fit, test, boxes, run.ops())) + (
        f"\nrepainting the square with each of the 4 patterns changes the model's view by at most {spread} grey "
        f"level(s) (max over the {len(need)} need test images; 1 = rounding)"
    )


def _report_header(args, config, times, total, loads, reused) -> list[str]:
    run, grpo, sft_settings = config.run, config.grpo, config.sft
    command = "python benchmarks/adaptive_learning.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    stages = ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in times.items())
    if reused:
        stages += (f" ({', '.join(reused)}: measured when the same settings first ran in this workdir, reused by "
                   "this invocation; `--fresh` redoes them)")  # fmt: skip
    methods = "; ".join(f"`{m}`: `pixel.reward.method={METHOD_VARIANTS[m][0]}` {' '.join(METHOD_VARIANTS[m][1])}"
                        for m in config.methods)  # fmt: skip
    return [
        "# Adaptive tool use on the look-or-not task (generated by `benchmarks/adaptive_learning.py`)",
        "",
        f"Command: `{command}`  ",
        f"Seed: {args.seed} (task images {run.spec.seed}, synthesis {run.seed}, SFT data order "
        f"{sft_settings.seed}, GRPO data order {grpo.data_seed}, rollout sampling {grpo.rollout_seed})  ",
        f"Wall time: {total / 60:.1f} min on {os.cpu_count()} CPU cores; {loads[0]} at the start, {loads[1]} at "
        "the end  ",
        f"Stages: {stages}  ",
        f"Runs: {methods}",
    ]


def _write_report(path, header, oracle_table, config, sft, runs, train_steps, table, separation, plot) -> None:
    lines = [
        *header,
        "",
        "## Label check (held-out test split)",
        "",
        "```",
        oracle_table,
        "```",
        "",
        f"## SFT: loss {sft.train_losses[0]:.3f} -> {sft.train_losses[-1]:.3f}, val loss {sft.val_losses}",
        "",
        f"`{dataclasses.asdict(config.sft)}`; task `{dataclasses.asdict(config.run)}`",
        "",
        "## GRPO: start (step 0 = the SFT export) and end, test split",
        "",
        f"`{dataclasses.asdict(config.grpo)}`",
        "",
        "```",
        table,
        "```",
        "",
        "Separation (first step from which TUR(need) >= 0.9 and TUR(no-need) <= 0.1 at every later evaluation): "
        + ", ".join(f"{m}: {s if s is not None else 'never'}" for m, s in separation.items()),
        "",
        f"![curves]({plot.name})",
        "",
        *_evaluation_table(runs),
        "",
        "## Training metrics (every step; adaptive rollouts unless named)",
        "",
        *_training_table(train_steps),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _evaluation_table(runs) -> list[str]:
    lines = [
        "## Every evaluation",
        "",
        "| method | step | acc need | acc no-need | TUR need | TUR no-need | tool tokens need | tool tokens no-need |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, points in runs.items():
        for p in points:
            lines.append(
                f"| {method} | {p.step} | {p.accuracy['need']:.3f} | {p.accuracy['no_need']:.3f} | "
                f"{p.tur['need']:.3f} | {p.tur['no_need']:.3f} | {p.tool_tokens['need']:.1f} | "
                f"{p.tool_tokens['no_need']:.1f} |"
            )
    return lines


TRAINING_COLUMNS = (
    ("critic/score/mean", "score"),
    ("pixel/acc/adaptive", "acc"),
    ("pixel/rapr/adaptive", "RaPR"),
    ("pixel/probe/need_rate", "need(x)"),
    ("pixel/probe/acc_tool", "acc force_tool"),
    ("pixel/probe/acc_no", "acc no_tool"),
    ("pixel/compliance/force_tool", "complied force_tool"),
    ("actor/entropy", "entropy"),
)


def _training_table(train_steps: dict[str, list[dict]]) -> list[str]:
    """One markdown row per (method, step) with the columns a method logs (``-`` where it logs none)."""
    header = "| method | step | " + " | ".join(label for _, label in TRAINING_COLUMNS) + " |"
    rows = [header, "|" + "---|" * (len(TRAINING_COLUMNS) + 2)]
    for method, steps in train_steps.items():
        for index, data in enumerate(steps, start=1):
            cells = [f"{data[key]:.3f}" if key in data else "-" for key, _ in TRAINING_COLUMNS]
            rows.append(f"| {method} | {index} | " + " | ".join(cells) + " |")
    return rows


if __name__ == "__main__":
    sys.exit(main())
