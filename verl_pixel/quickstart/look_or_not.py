"""The look-or-not pipeline on CPU: data, a small Qwen2.5-VL, verl's SFT trainer, then verl's GRPO from its export.

Stages (each a function, so the quick start and ``benchmarks/adaptive_learning.py`` run the same code):

1. :func:`prepare`: draw the task (:mod:`verl_pixel.data.look_or_not`), write SFT / RL files, build the model from
   the tiny kit with a tokenizer that learned the task's prompts;
2. :func:`train_sft`: ``torchrun -m verl.trainer.sft_trainer`` with ``PixelSFTDataset``; the checkpoint is exported
   as a Hugging Face folder by verl itself (``checkpoint.save_contents`` with ``hf_model``);
3. :func:`train_grpo`: ``verl.trainer.main_ppo`` (``grpo_cpu.yaml``) from that export, one run per
   ``pixel.reward.method`` with the rollout layout it needs, the held-out test split as verl's validation set
   (``trainer.val_before_train`` gives step 0, the SFT model; ``trainer.test_freq`` the rest).

Validation samples at the training temperature, so the reported TUR is the policy's probability of zooming, not a
greedy decision. ``needs_zoom`` reaches validation only as the rows' data source (``lookornot/need`` /
``lookornot/no_need``), which verl averages metrics by; no reward reads it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from verl_pixel.data.look_or_not_sets import LookOrNotRun, RunFiles, run_files, tokenizer_texts, write_run_files
from verl_pixel.quickstart.grpo_cpu import GRPOSmokeResult, run_main_ppo
from verl_pixel.quickstart.sft import SFTSettings, SFTSmokeResult, last_checkpoint, read_losses, run_sft
from verl_pixel.tiny_models import TinyQwen25VLSpec, build_tiny_qwen25vl

logger = logging.getLogger(__name__)

METHODS = ("none", "curiosity", "look_less")  # the comparison the issue asks for
# Every run the comparison can make: the ``pixel.reward.method`` it trains with and overrides of its defaults.
METHOD_VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "none": ("none", ()),
    "curiosity": ("curiosity", ()),
    "look_less": ("look_less", ()),
    # need(x) from every probe, obeying its mode or not: the first run's definition, which collapsed tool use.
    "look_less_all_probes": ("look_less", ("+pixel.reward.look_less.probe_accuracy=all",)),
}
_STAGE_STAMP = "stage.json"  # a finished stage's settings hash, wall time and outputs (for reuse_stages)

# A Qwen2.5-VL config small enough for CPU and large enough to learn the task (~1.4 M parameters).
EXPERIMENT_MODEL = TinyQwen25VLSpec(
    hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
    mrope_section=(4, 6, 6), vision_depth=2, vision_hidden_size=64, tokenizer_pieces="lines",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class GRPOSettings:
    """One GRPO run of the comparison (the same for every method but the reward and the mode layout).

    Attributes:
        steps: training steps.
        prompts_per_step: ``data.train_batch_size`` (also the PPO mini-batch: one on-policy update per step).
        rollouts_per_prompt: ``actor_rollout_ref.rollout.n``.
        lr: actor learning rate.
        test_freq: validation every this many steps (and at step 0 and the last step).
        val_samples: responses per test question (``val_kwargs.n``, sampled at ``val_temperature``).
        val_temperature: validation sampling temperature (the training temperature is verl's default, 1.0).
        data_seed: ``data.seed`` (the order of training prompts).
        rollout_seed: ``actor_rollout_ref.rollout.seed`` (the hf backend's sampling).
        prompt_length: ``rollout.prompt_length`` (prompts are padded to it: keep it tight).
        response_length: ``rollout.response_length`` (tool outputs count; padded to it).
        max_assistant_turns: ``multi_turn.max_assistant_turns``.
        export_hf: save the actor as a Hugging Face folder after the last step
            (``<workdir>/<method>/checkpoints/global_step_<steps>/actor/huggingface``).
    """

    steps: int = 30
    prompts_per_step: int = 8
    rollouts_per_prompt: int = 8
    lr: float = 1e-4
    test_freq: int = 5
    val_samples: int = 1
    val_temperature: float = 1.0
    data_seed: int = 1
    rollout_seed: int = 42
    prompt_length: int = 160
    response_length: int = 256
    max_assistant_turns: int = 3
    export_hf: bool = False


def mode_layout(method: str, n: int) -> dict[str, int]:
    """The rollout layout a method needs: Look Less halves the group into adaptive rollouts and the two probes."""
    if method == "look_less":
        probes = n // 4
        return {"adaptive": n - 2 * probes, "force_tool": probes, "no_tool": probes}
    return {"adaptive": n}


def grpo_overrides(method: str, settings: GRPOSettings, run: LookOrNotRun) -> list[str]:
    """Hydra overrides on ``grpo_cpu.yaml`` for one run of :data:`METHOD_VARIANTS` (paths and steps: the runner)."""
    reward, method_overrides = METHOD_VARIANTS[method]
    layout = ",".join(f"{mode}:{count}" for mode, count in mode_layout(reward, settings.rollouts_per_prompt).items())
    batch = settings.prompts_per_step * settings.rollouts_per_prompt
    return [
        f"data.train_batch_size={settings.prompts_per_step}",
        f"data.max_pixels={run.view_max_pixels}",
        f"data.max_prompt_length={settings.prompt_length}",
        f"data.max_response_length={settings.response_length}",
        f"data.seed={settings.data_seed}",
        f"actor_rollout_ref.rollout.n={settings.rollouts_per_prompt}",
        f"actor_rollout_ref.rollout.seed={settings.rollout_seed}",
        f"actor_rollout_ref.rollout.prompt_length={settings.prompt_length}",
        f"actor_rollout_ref.rollout.response_length={settings.response_length}",
        f"actor_rollout_ref.rollout.multi_turn.max_assistant_turns={settings.max_assistant_turns}",
        f"actor_rollout_ref.rollout.val_kwargs.n={settings.val_samples}",
        f"actor_rollout_ref.rollout.val_kwargs.do_sample={settings.val_temperature > 0}",
        f"actor_rollout_ref.rollout.val_kwargs.temperature={settings.val_temperature}",
        f"actor_rollout_ref.rollout.engine_kwargs.hf.max_batch_size={batch}",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={min(batch, 16)}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={min(batch, 16)}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={settings.prompts_per_step}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={min(batch, 16)}",
        f"actor_rollout_ref.actor.optim.lr={settings.lr}",
        "~pixel.rollout.mode_layout",
        f"+pixel.rollout.mode_layout={{{layout}}}",
        f"pixel.reward.method={reward}",
        *method_overrides,
        "trainer.val_before_train=True",
        f"trainer.test_freq={settings.test_freq}",
        f"trainer.experiment_name=lookornot_{method}",
        *(
            [f"trainer.save_freq={settings.steps}", "actor_rollout_ref.actor.checkpoint.save_contents=[hf_model]"]
            if settings.export_hf
            else []
        ),
    ]


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Everything one run of the pipeline does (the quick start and the benchmark differ only in these values).

    Attributes:
        run: the task's data (sizes, SFT mixture, budgets, seeds).
        model: the model's sizes (its tokenizer texts are filled in from the data).
        sft: the SFT run (its Hugging Face export is always on).
        grpo: every GRPO run.
        methods: one GRPO run per ``pixel.reward.method``, in order.
        tokenizer_rows: SFT rows whose prompts the tokenizer learns.
        sft_timeout_s: wall-clock limit of the SFT trainer.
        grpo_timeout_s: wall-clock limit of each GRPO run.
    """

    run: LookOrNotRun
    model: TinyQwen25VLSpec = EXPERIMENT_MODEL
    sft: SFTSettings = dataclasses.field(default_factory=SFTSettings)
    grpo: GRPOSettings = dataclasses.field(default_factory=GRPOSettings)
    methods: tuple[str, ...] = METHODS
    tokenizer_rows: int = 64
    sft_timeout_s: int = 4 * 3600
    grpo_timeout_s: int = 4 * 3600


@dataclasses.dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` produced: files, model, the SFT run, one GRPO run per method, stage times."""

    files: RunFiles
    base_model: Path
    sft: SFTSmokeResult
    grpo: dict[str, GRPOSmokeResult]
    seconds: dict[str, float]
    reused: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """SFT exported a model and every GRPO run exited 0 with finite scores."""
        return self.sft.ok and self.sft.hf_dir.is_dir() and all(result.ok for result in self.grpo.values())


def run_experiment(
    workdir: str | os.PathLike,
    config: ExperimentConfig,
    progress: Callable[[str], None] = logger.info,
    reuse_stages: bool = False,
) -> ExperimentResult:
    """Prepare, SFT, then one GRPO run per method from the SFT export (stops at the first failed stage).

    With ``reuse_stages`` the data + model stage and the SFT stage are skipped when ``workdir`` holds their
    outputs from a run with the same settings (a stamp with the settings' hash, written when the stage finished);
    their recorded wall times are reported as measured then (``ExperimentResult.reused`` names them).
    """
    work = Path(workdir).resolve()
    seconds: dict[str, float] = {}
    reused: list[str] = []
    prepare_key = _settings_hash(config.run, config.model, config.tokenizer_rows)
    stamp = _stamp(work / "data", prepare_key) if reuse_stages else None
    if stamp is None:
        progress("drawing the look-or-not task, writing SFT / RL files, building the model")
        started = time.monotonic()
        files, base_model = prepare(work, config.run, config.model, config.tokenizer_rows)
        seconds["data + model"] = time.monotonic() - started
        _write_stamp(work / "data", prepare_key, seconds["data + model"], {"model": str(base_model)})
    else:
        progress(f"reusing the task files and the model in {work} (same settings)")
        files, base_model = run_files(work / "data"), Path(stamp["paths"]["model"])
        seconds["data + model"] = stamp["seconds"]
        reused.append("data + model")
    sft = _sft_stage(base_model, files, work / "sft", config, _settings_hash(prepare_key, config.sft), reuse_stages,
                     progress, seconds, reused)  # fmt: skip
    grpo: dict[str, GRPOSmokeResult] = {}
    if sft.ok and sft.hf_dir.is_dir():
        for method in config.methods:
            progress(f"GRPO with verl.trainer.main_ppo from the SFT export: method {method}, {config.grpo.steps} steps")
            started = time.monotonic()
            grpo[method] = train_grpo(method, sft.hf_dir, files, work / "grpo", config.grpo, config.run,
                                      config.grpo_timeout_s)  # fmt: skip
            seconds[f"GRPO {method}"] = time.monotonic() - started
            if not grpo[method].ok:
                break
    return ExperimentResult(files, base_model, sft, grpo, seconds, tuple(reused))


def _sft_stage(
    base_model: Path,
    files: RunFiles,
    folder: Path,
    config: ExperimentConfig,
    key: str,
    reuse_stages: bool,
    progress: Callable[[str], None],
    seconds: dict[str, float],
    reused: list[str],
) -> SFTSmokeResult:
    """Train SFT (or take a finished one with the same settings from ``folder``); records its wall time."""
    stamp = _stamp(folder, key) if reuse_stages else None
    if stamp is not None:
        progress(f"reusing the SFT run in {folder} (same settings)")
        seconds["SFT"] = stamp["seconds"]
        reused.append("SFT")
        metrics = folder / "sft_metrics.jsonl"
        train_losses, val_losses = read_losses(metrics)
        checkpoint = last_checkpoint(folder / "checkpoints")
        return SFTSmokeResult(0, train_losses, val_losses, checkpoint, metrics, folder / "sft_train.log")
    progress(f"SFT with verl.trainer.sft_trainer ({_sft_length(config.sft)}), exporting a Hugging Face folder")
    started = time.monotonic()
    sft = train_sft(base_model, files, folder, config.sft, config.sft_timeout_s)
    seconds["SFT"] = time.monotonic() - started
    if sft.ok and sft.hf_dir.is_dir():
        _write_stamp(folder, key, seconds["SFT"], {})
    return sft


def _settings_hash(*parts: object) -> str:
    plain = [dataclasses.asdict(p) if dataclasses.is_dataclass(p) else p for p in parts]  # type: ignore[arg-type]
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _stamp(folder: Path, key: str) -> dict | None:
    """The stage stamp in ``folder`` if it was written for settings ``key``."""
    path = folder / _STAGE_STAMP
    if not path.is_file():
        return None
    stamp = json.loads(path.read_text())
    return stamp if stamp.get("settings") == key else None


def _write_stamp(folder: Path, key: str, seconds: float, paths: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _STAGE_STAMP).write_text(json.dumps({"settings": key, "seconds": seconds, "paths": paths}))


def _sft_length(settings: SFTSettings) -> str:
    return f"{settings.steps} steps" if settings.steps else f"{settings.epochs} epochs"


def prepare(
    workdir: Path, run: LookOrNotRun, model: TinyQwen25VLSpec, tokenizer_rows: int = 64
) -> tuple[RunFiles, Path]:
    """Draw the task, write its files and build the model (its tokenizer learns the first SFT rows' prompts)."""
    files = write_run_files(workdir / "data", run)
    rows = pd.read_parquet(files.sft_train).head(tokenizer_rows).to_dict("records")
    spec = dataclasses.replace(model, tokenizer_texts=tokenizer_texts(rows))
    return files, build_tiny_qwen25vl(workdir / "model", spec)


def train_sft(model_dir: Path, files: RunFiles, workdir: Path, settings: SFTSettings, timeout_s: int) -> SFTSmokeResult:
    """verl's SFT trainer on the task's trajectories, exporting a Hugging Face folder (``result.hf_dir``)."""
    return run_sft(model_dir, files.sft_train, files.sft_val, workdir, dataclasses.replace(settings, export_hf=True),
                   timeout_s=timeout_s)  # fmt: skip


def train_grpo(
    method: str,
    model_dir: Path,
    files: RunFiles,
    workdir: Path,
    settings: GRPOSettings,
    run: LookOrNotRun,
    timeout_s: int,
    extra_overrides: Sequence[str] = (),
) -> GRPOSmokeResult:
    """verl's ``main_ppo`` from ``model_dir`` as run ``method`` of :data:`METHOD_VARIANTS`, in ``workdir/method``."""
    if method not in METHOD_VARIANTS:
        raise ValueError(f"method must be one of {', '.join(METHOD_VARIANTS)}, got {method!r}")
    overrides = [*grpo_overrides(method, settings, run), *extra_overrides]
    return run_main_ppo(model_dir, files.rl_train, files.rl_test, files.tools_yaml, workdir / method, settings.steps,
                        overrides, timeout_s)  # fmt: skip
