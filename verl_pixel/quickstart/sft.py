"""verl's real SFT trainer on CPU, offline: the runner the quick start, the experiment and the tests share.

:func:`run_sft` runs ``torchrun -m verl.trainer.sft_trainer`` with
:class:`~verl_pixel.data.sft_dataset.PixelSFTDataset` on the CPU platform from a model folder and parquets
(:class:`SFTSettings`: length, batch, optimizer, Hugging Face export) and reports the logged losses and the
checkpoint written; :func:`run_sft_smoke` first builds the tiny model of a family (``--family`` where a command
offers it) and a bundled multi-turn sample.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from verl_pixel.constants import CPU_PLATFORM_NAME, VERL_PLATFORM_ENV
from verl_pixel.data.smoke_sample import SMOKE_MAX_LENGTH, write_synthesized_sft_sample
from verl_pixel.model_family import ModelFamily

logger = logging.getLogger(__name__)

# The environment every process of a CPU run needs; torchrun ranks and Ray workers inherit it.
CPU_RUN_ENV: dict[str, str] = {
    VERL_PLATFORM_ENV: CPU_PLATFORM_NAME,
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "WANDB_MODE": "disabled",
}


@dataclasses.dataclass(frozen=True)
class SFTSmokeResult:
    """Outcome of a CPU SFT run."""

    returncode: int
    train_losses: list[float]
    val_losses: list[float]
    checkpoint_dir: Path
    metrics_file: Path
    log_file: Path

    @property
    def hf_dir(self) -> Path:
        """The Hugging Face export of the last checkpoint (written with ``SFTSettings.export_hf``)."""
        return self.checkpoint_dir / "huggingface"

    @property
    def ok(self) -> bool:
        """Exit 0, every loss finite, and a checkpoint on disk."""
        losses = self.train_losses + self.val_losses
        return (
            self.returncode == 0
            and bool(self.train_losses)
            and all(math.isfinite(x) for x in losses)
            and self.checkpoint_dir.is_dir()
        )


@dataclasses.dataclass(frozen=True)
class SFTSettings:
    """What a CPU run of verl's SFT trainer does (defaults: the quick start's smoke run).

    Attributes:
        steps: ``trainer.total_training_steps``; ``None`` trains ``epochs`` full epochs.
        epochs: ``trainer.total_epochs``; with ``steps`` set it is raised to ``steps`` (an epoch has at least one
            step), so the step count decides and a small dataset does not end the run early.
        train_batch_size: sequences per optimizer step.
        micro_batch_size: sequences per forward / backward (``data.micro_batch_size_per_gpu``).
        lr: ``optim.lr`` (``None``: verl's default).
        lr_scheduler: ``optim.lr_scheduler_type`` (``constant`` or ``cosine``).
        warmup_ratio: ``optim.lr_warmup_steps_ratio``.
        max_length: ``data.max_length``.
        nproc: torchrun processes (FSDP2 ranks over gloo).
        export_hf: also save the weights as a Hugging Face folder (``checkpoint.save_contents`` with ``hf_model``):
            ``<checkpoint>/huggingface``, what GRPO starts from.
        seed: ``trainer.seed`` (data order).
    """

    steps: int | None = 3
    epochs: int = 1
    train_batch_size: int = 4
    micro_batch_size: int = 2
    lr: float | None = None
    lr_scheduler: str = "constant"
    warmup_ratio: float = 0.0
    max_length: int = SMOKE_MAX_LENGTH
    nproc: int = 1
    export_hf: bool = False
    seed: int = 1


def sft_command(model_dir: Path, train: Path, val: Path, out_dir: Path, settings: SFTSettings) -> list[str]:
    """The torchrun command line for verl's SFT trainer on CPU with ``PixelSFTDataset``."""
    from verl_pixel.platform.cpu import CPU_SFT_OVERRIDES

    length = [f"trainer.total_training_steps={settings.steps}"] if settings.steps else []
    optim = [f"optim.lr={settings.lr}"] if settings.lr is not None else []
    contents = '["model","hf_model"]' if settings.export_hf else '["model","optimizer","extra"]'
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
        f"--nproc_per_node={settings.nproc}", "-m", "verl.trainer.sft_trainer",
        f"model.path={model_dir}", "model.trust_remote_code=True",
        *CPU_SFT_OVERRIDES,
        f"data.train_files={train}", f"data.val_files={val}",
        "data.custom_cls.path=pkg://verl_pixel.data.sft_dataset", "data.custom_cls.name=PixelSFTDataset",
        f"data.train_batch_size={settings.train_batch_size}",
        f"data.micro_batch_size_per_gpu={settings.micro_batch_size}", "data.num_workers=0",
        f"data.max_length={settings.max_length}",
        *optim, f"optim.lr_scheduler_type={settings.lr_scheduler}",
        f"optim.lr_warmup_steps_ratio={settings.warmup_ratio}",
        f"checkpoint.save_contents={contents}",
        "model.enable_gradient_checkpointing=False",  # recomputing activations costs CPU time; memory is plenty
        "trainer.logger=[console,file]", f"trainer.total_epochs={_epochs(settings)}", *length,
        "trainer.resume_mode=disable", f"trainer.seed={settings.seed}",
        "trainer.project_name=verl_pixel_quickstart", "trainer.experiment_name=sft_cpu",
        f"trainer.default_local_dir={out_dir / 'checkpoints'}",
    ]  # fmt: skip


def _epochs(settings: SFTSettings) -> int:
    return settings.epochs if settings.steps is None else max(settings.epochs, settings.steps)


def run_sft_smoke(
    workdir: str | os.PathLike,
    steps: int = 3,
    nproc: int = 1,
    timeout_s: int = 600,
    data_builder: Callable[[Path], tuple[Path, Path]] | None = None,
    max_length: int = SMOKE_MAX_LENGTH,
    family: str | ModelFamily = ModelFamily.QWEN2_5_VL,
) -> SFTSmokeResult:
    """Build the tiny model and sample data under ``workdir`` and run verl's SFT trainer on CPU.

    Args:
        workdir: folder for the model, data, logs and checkpoints (created).
        steps: training steps.
        nproc: torchrun processes (FSDP2 ranks over gloo).
        timeout_s: wall-clock limit for the trainer.
        data_builder: writes (train, val) parquets into the given folder; default:
            :func:`verl_pixel.data.smoke_sample.write_synthesized_sft_sample` (synthesized trajectories).
        max_length: ``data.max_length`` of the trainer.
        family: model family of the tiny model (and of the default data's operation preset).

    Returns:
        The parsed outcome; ``result.ok`` says whether it trained and saved.
    """
    from verl_pixel.tiny_models import build_tiny_model, tiny_model_dirname

    work = Path(workdir).resolve()
    model_dir = build_tiny_model(work / tiny_model_dirname(family), family)
    builder = data_builder or (lambda folder: write_synthesized_sft_sample(folder, family=family))
    train, val = builder(work / "data")
    settings = SFTSettings(steps=steps, nproc=nproc, max_length=max_length)
    return run_sft(model_dir, train, val, work, settings, timeout_s)


def run_sft(
    model_dir: Path, train: Path, val: Path, workdir: Path, settings: SFTSettings, timeout_s: int = 600
) -> SFTSmokeResult:
    """Run verl's SFT trainer on CPU from ``model_dir`` on the given parquets; outputs under ``workdir``."""
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    metrics_file, log_file = work / "sft_metrics.jsonl", work / "sft_train.log"
    metrics_file.unlink(missing_ok=True)
    env = {**os.environ, **CPU_RUN_ENV, "VERL_FILE_LOGGER_PATH": str(metrics_file)}
    logger.info("running verl.trainer.sft_trainer on CPU (log: %s)", log_file)
    with open(log_file, "w") as log:
        try:
            proc = subprocess.run(
                sft_command(Path(model_dir).resolve(), Path(train).resolve(), Path(val).resolve(), work, settings),
                env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=False, cwd=work,
            )  # fmt: skip
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            returncode = 124
    train_losses, val_losses = read_losses(metrics_file)
    return SFTSmokeResult(
        returncode=returncode,
        train_losses=train_losses,
        val_losses=val_losses,
        checkpoint_dir=last_checkpoint(work / "checkpoints"),
        metrics_file=metrics_file,
        log_file=log_file,
    )


def last_checkpoint(folder: Path) -> Path:
    """The ``global_step_N`` folder with the largest N under ``folder`` (``global_step_0`` if there is none)."""
    steps = [int(p.name.removeprefix("global_step_")) for p in folder.glob("global_step_*") if p.is_dir()]
    return folder / f"global_step_{max(steps, default=0)}"


def read_losses(metrics_file: Path) -> tuple[list[float], list[float]]:
    """Read ``train/loss`` and ``val/loss`` per step from verl's ``file`` logger output (JSON lines)."""
    train: list[float] = []
    val: list[float] = []
    if not metrics_file.is_file():
        return train, val
    for line in metrics_file.read_text().splitlines():
        data = json.loads(line)["data"]
        if "train/loss" in data:
            train.append(float(data["train/loss"]))
        if "val/loss" in data:  # verl logs a NaN loss (no validation batch) as null
            val.append(math.nan if data["val/loss"] is None else float(data["val/loss"]))
    return train, val
