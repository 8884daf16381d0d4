"""verl's real ``main_ppo`` (V1 GRPO) on CPU: the project's end-to-end check of the RL path.

``run_grpo_smoke(workdir, family=...)`` builds the tiny model of a family (Qwen2.5-VL by default) and an RL sample
from the bundled seed images and runs ``python -m verl.trainer.main_ppo --config-path=<pkg>/configs/cpu
--config-name=grpo_cpu`` under a timeout, with ``VERL_PLATFORM=cpu`` and verl's ``file`` logger. The config
(``verl_pixel/configs/cpu/grpo_cpu.yaml``, Qwen2.5-VL settings; :func:`family_overrides` adapts it to another
family) composes against verl's packaged ``ppo_trainer`` like the GPU recipes and says why each CPU setting is
there; it uses
``pixel_agent``, the ``pixel`` reward with Look Less shaping, the group-shaping replay buffer and the ``hf``
rollout backend. Users get "run my recipe on a laptop for two steps before paying for a cluster". The config
declares verl-pixel's start-up check (:mod:`verl_pixel.startup_check`), so a bad ``pixel`` key, ``hf`` engine kwarg
or tool-YAML value ends the run in the driver, before Ray starts, with the key's full path on stderr.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verl_pixel.configs import CONFIG_DIR
from verl_pixel.data.smoke_sample import smoke_pixels, smoke_video
from verl_pixel.model_family import ModelFamily, family_spec
from verl_pixel.quickstart.sft import CPU_RUN_ENV

logger = logging.getLogger(__name__)

SMOKE_TOKENS = 64  # visual tokens of inputs and crops (at least twice the processor's minimum): short steps
SMOKE_FRAME_TOKENS = 16  # visual tokens of a frame select_frames returns (Qwen2.5-VL: the seed sample's -> 140x84)


@dataclasses.dataclass(frozen=True)
class GRPOSmokeResult:
    """Outcome of a CPU ``main_ppo`` run: exit code and the per-step metrics from verl's file logger."""

    returncode: int
    steps: list[dict[str, Any]]
    metrics_file: Path
    log_file: Path

    def series(self, key: str) -> list[float]:
        """One metric across the logged training steps (steps that lack it are skipped)."""
        return [float(step[key]) for step in self.steps if key in step]

    @property
    def training_steps(self) -> list[dict[str, Any]]:
        """The logged training steps (a validation-only line, e.g. ``val_before_train``'s step 0, left out)."""
        return [step for step in self.steps if "critic/score/mean" in step]

    @property
    def ok(self) -> bool:
        """Exit 0 and every step's critic score finite."""
        scores = self.series("critic/score/mean")
        return self.returncode == 0 and bool(scores) and all(math.isfinite(x) for x in scores)


def write_rl_sample(
    folder: Path,
    n_train: int = 4,
    n_val: int = 2,
    n_videos: int = 0,
    family: str | ModelFamily = ModelFamily.QWEN2_5_VL,
) -> tuple[Path, Path]:
    """RL parquets from the bundled seed sample (images of 1600x1200, answers legible only when zoomed).

    Args:
        folder: destination (gets ``seeds/``, ``rl_train.parquet``, ``rl_val.parquet``).
        n_train: training rows.
        n_val: validation rows (image questions).
        n_videos: how many of the training rows are the sample's video questions (one ``<video>`` each, alternating
            with image questions from the first row on), for a mixed image + video run.
        family: whose units the videos' smoke budget is written in (Qwen2.5-VL: the seed sample's 16 frames of
            256x192 decode to 280x168, 8 x 60 video tokens).
    """
    from verl_pixel.data.parquet_io import write_rl_parquet
    from verl_pixel.data.rl_prepare import RLPrepareConfig, seeds_to_rl_rows
    from verl_pixel.data.seed_sample import load_seed_sample

    seeds = load_seed_sample(folder / "seeds")
    images = [seed for seed in seeds if seed.image]
    videos = [seed for seed in seeds if seed.video][:n_videos]
    if len(videos) < n_videos or not 0 <= n_videos <= n_train:
        raise ValueError(f"n_videos must be in [0, {min(n_train, len(videos))}], got {n_videos}")
    train_images = images[: n_train - n_videos]
    pairs = itertools.zip_longest(videos, train_images)
    mixed = [seed for pair in pairs for seed in pair if seed is not None]
    config = RLPrepareConfig(video=smoke_video(family))
    rows = seeds_to_rl_rows([*mixed, *images[n_train - n_videos : n_train - n_videos + n_val]], config)
    # Prompts differ in length (the seeds' questions): verl#7899 breaks batches whose sequences are all equal-length.
    train = write_rl_parquet(rows[:n_train], folder / "rl_train.parquet")
    val = write_rl_parquet(rows[n_train:], folder / "rl_val.parquet")
    return train, val


def smoke_overrides(model_dir: Path, train: Path, val: Path, tools_yaml: Path, out: Path, steps: int) -> list[str]:
    """Hydra overrides on top of ``verl_pixel/configs/cpu/grpo_cpu.yaml``: the run's paths and step count."""
    return [
        f"actor_rollout_ref.model.path={model_dir}",
        f"data.train_files={train}",
        f"data.val_files={val}",
        f"actor_rollout_ref.rollout.multi_turn.tool_config_path={tools_yaml}",
        f"trainer.total_training_steps={steps}",
        f"trainer.default_local_dir={out / 'checkpoints'}",
    ]


def family_overrides(family: str | ModelFamily) -> list[str]:
    """Overrides of the yaml's Qwen2.5-VL settings for another family: input image budget and patch size."""
    spec = family_spec(family)
    if spec.family is ModelFamily.QWEN2_5_VL:
        return []
    return [f"data.max_pixels={smoke_pixels(family, SMOKE_TOKENS)}", f"data.image_patch_size={spec.patch_size}"]


def _tools_yaml(folder: Path, family: str | ModelFamily) -> Path:
    from verl_pixel.tools.schema_yaml import ops_config, write_tools_yaml

    budget = smoke_pixels(family, SMOKE_TOKENS)
    budgets = {
        "image_max_pixels": budget,
        "crop_max_pixels": budget,
        "frame_max_pixels": smoke_pixels(family, SMOKE_FRAME_TOKENS),
    }
    return write_tools_yaml(folder / "tools.yaml", ops_config(family_spec(family).family.value, overrides=budgets))


def run_grpo_smoke(
    workdir: str | os.PathLike,
    steps: int = 2,
    timeout_s: int = 900,
    extra_overrides: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    family: str | ModelFamily = ModelFamily.QWEN2_5_VL,
    n_videos: int = 0,
) -> GRPOSmokeResult:
    """Run verl's ``main_ppo`` for ``steps`` GRPO steps on CPU with ``family``'s tiny model; returns the metrics.

    ``extra_overrides`` go last, e.g. ``["trainer.val_only=True", "trainer.val_before_train=True"]`` for the
    verl-native evaluation path (validation metrics per data source, then exit). ``extra_env`` is added to the
    environment of every process of the run. ``n_videos`` of the 4 training prompts are video questions (a mixed
    image + video run).
    """
    from verl_pixel.tiny_models import build_tiny_model, tiny_model_dirname

    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    model_dir = build_tiny_model(work / tiny_model_dirname(family), family)
    train, val = write_rl_sample(work / "data", n_videos=n_videos, family=family)
    overrides = [*family_overrides(family), *extra_overrides]
    tools_yaml = _tools_yaml(work, family)
    return run_main_ppo(model_dir, train, val, tools_yaml, work, steps, overrides, timeout_s, extra_env)


def run_main_ppo(
    model_dir: Path,
    train: Path,
    val: Path,
    tools_yaml: Path,
    workdir: Path,
    steps: int,
    extra_overrides: Sequence[str] = (),
    timeout_s: int = 900,
    extra_env: Mapping[str, str] | None = None,
) -> GRPOSmokeResult:
    """Run ``main_ppo`` with ``grpo_cpu.yaml`` from ``model_dir`` on the given files; outputs under ``workdir``.

    ``extra_overrides`` go after the paths and the step count (they win); ``extra_env`` is added to the
    environment of every process of the run.
    """
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    paths = (Path(p).resolve() for p in (model_dir, train, val, tools_yaml))  # the run's cwd is workdir
    overrides = [*smoke_overrides(*paths, work, steps), *extra_overrides]
    metrics_file, log_file = work / "grpo_metrics.jsonl", work / "grpo_train.log"
    metrics_file.unlink(missing_ok=True)
    env = {**os.environ, **CPU_RUN_ENV, "VERL_FILE_LOGGER_PATH": str(metrics_file), "RAY_AUTH_MODE": "disabled"}
    env.update(extra_env or {})
    command = [sys.executable, "-m", "verl.trainer.main_ppo", f"--config-path={CONFIG_DIR / 'cpu'}",
               "--config-name=grpo_cpu", *overrides]  # fmt: skip
    logger.info("running verl.trainer.main_ppo on CPU for %d steps (log: %s)", steps, log_file)
    with open(log_file, "w") as log:
        try:
            proc = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, cwd=work)
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            returncode = 124
    return GRPOSmokeResult(returncode, _read_steps(metrics_file), metrics_file, log_file)


def _read_steps(metrics_file: Path) -> list[dict[str, Any]]:
    if not metrics_file.is_file():
        return []
    return [json.loads(line)["data"] for line in metrics_file.read_text().splitlines() if line.strip()]
