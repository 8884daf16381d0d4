"""verl's real ``main_ppo`` (V1 GRPO) on CPU with the tiny model, ``pixel_agent``, the ``pixel`` reward and the
``hf`` rollout backend: the project's end-to-end check of the RL path, and "run my recipe on a laptop first".

``run_grpo_smoke(workdir)`` builds the tiny Qwen2.5-VL and an RL sample from the bundled seed images, writes a
hydra config that composes against verl's packaged ``ppo_trainer`` (``hydra.searchpath: [pkg://verl.trainer.config]``,
only our deltas, as the GPU recipes do), and runs ``python -m verl.trainer.main_ppo`` under a timeout with verl's
``file`` logger. Why each CPU setting is there:

* ``VERL_PLATFORM=cpu`` — verl-pixel's CPU platform (gloo, CPU engines, CPU Ray bundles);
* ``ray_kwargs.ray_init.num_cpus`` above the core count and one TransferQueue storage unit — the TaskRunner,
  TransferQueue controller and storage actors each hold a logical CPU; with the defaults the workers' placement
  group never becomes ready and ``main_ppo`` waits forever; ``num_gpus`` — verl's resource check counts Ray GPUs
  whatever the platform, so the run declares logical ones;
* ``rollout.tensor_model_parallel_size=1`` — the default 2 fails verl's divisibility check on one rank;
* one agent-loop and one reward worker — each is a process importing verl (~10 s of 2 cores);
* ``engine_kwargs.hf.nudge_*`` — a random-weight model never calls a tool; every second first turn is forced to
  start with a crop call, generated through the same backend path with the model's own log-probs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from verl_pixel.quickstart import CPU_RUN_ENV

logger = logging.getLogger(__name__)

NUDGE = '<tool_call>\n{"name": "crop_image", "arguments": {"bbox_2d": [0.3, 0.3, 0.7, 0.7]}}\n</tool_call>'
SMOKE_MAX_PIXELS = 64 * 28 * 28  # input images and crops: ~64 visual tokens each, so CPU steps stay short


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
    def ok(self) -> bool:
        """Exit 0 and every step's critic score finite."""
        scores = self.series("critic/score/mean")
        return self.returncode == 0 and bool(scores) and all(math.isfinite(x) for x in scores)


def write_rl_sample(folder: Path, n_train: int = 4, n_val: int = 2) -> tuple[Path, Path]:
    """RL parquets from the bundled seed images (1600x1200, answers legible only when zoomed)."""
    from verl_pixel.data.parquet_io import write_rl_parquet
    from verl_pixel.data.rl_prepare import RLPrepareConfig, seeds_to_rl_rows
    from verl_pixel.data.seed_sample import load_seed_sample

    seeds = [seed for seed in load_seed_sample(folder / "seeds") if seed.image]
    rows = seeds_to_rl_rows(seeds[: n_train + n_val], RLPrepareConfig())
    # Prompts differ in length (the seeds' questions): verl#7899 breaks batches whose sequences are all equal-length.
    train = write_rl_parquet(rows[:n_train], folder / "rl_train.parquet")
    val = write_rl_parquet(rows[n_train:], folder / "rl_val.parquet")
    return train, val


def smoke_config(model_dir: Path, train: Path, val: Path, tools_yaml: Path, out: Path, steps: int) -> dict:
    """The hydra config (deltas over verl's ``ppo_trainer``) of the CPU GRPO smoke run."""
    rollout = {
        "name": "hf", "n": 4, "tensor_model_parallel_size": 1, "prompt_length": 2048, "response_length": 384,
        "log_prob_micro_batch_size_per_gpu": 4, "load_format": "dummy",
        "agent": {"num_workers": 1, "default_agent_loop": "pixel_agent"},
        "multi_turn": {"enable": True, "max_assistant_turns": 3, "tool_config_path": str(tools_yaml)},
        "engine_kwargs": {"hf": {"nudge_text": NUDGE, "nudge_every": 2, "max_batch_size": 8}},
    }  # fmt: skip
    return {
        "hydra": {"searchpath": ["pkg://verl.trainer.config"]},
        "defaults": ["ppo_trainer", "_self_"],
        "algorithm": {"adv_estimator": "grpo", "use_kl_in_reward": False},
        "data": {
            "train_files": str(train),
            "val_files": str(val),
            "train_batch_size": 2,
            "max_prompt_length": 2048,
            "max_response_length": 384,
            "dataloader_num_workers": 0,
            "max_pixels": SMOKE_MAX_PIXELS,
            "custom_cls": {"path": "pkg://verl_pixel.data.rl_dataset", "name": "PixelRLDataset"},
        },  # fmt: skip
        "actor_rollout_ref": {
            "model": {
                "path": str(model_dir),
                "trust_remote_code": True,
                "use_remove_padding": False,
                "override_config": {"attn_implementation": "sdpa"},
            },  # fmt: skip
            "actor": {
                "strategy": "fsdp2",
                "ppo_mini_batch_size": 2,
                "ppo_micro_batch_size_per_gpu": 4,
                "use_kl_loss": False,
                "optim": {"lr": 1e-2},
            },  # fmt: skip
            "ref": {"log_prob_micro_batch_size_per_gpu": 4},
            "rollout": rollout,
        },
        "reward": {"num_workers": 1, "reward_manager": {"name": "pixel"}},
        "pixel": {
            "rollout": {"mode_layout": {"adaptive": 2, "force_tool": 1, "no_tool": 1}},
            "reward": {"method": "look_less"},
        },
        "trainer": {
            "device": "cpu",
            "logger": ["console", "file"],
            "n_gpus_per_node": 1,
            "nnodes": 1,
            "total_training_steps": steps,
            "val_before_train": False,
            "test_freq": -1,
            "save_freq": -1,
            "project_name": "verl_pixel_cpu",
            "experiment_name": "grpo_smoke",
            "default_local_dir": str(out / "ckpt"),
            "v1": {
                "sampler": {
                    "custom_sampler": {"path": "pkg://verl_pixel.reward.replay_buffer", "name": "PixelReplayBuffer"}
                }
            },
        },  # fmt: skip
        # verl's resource check counts Ray "GPU" resources whatever the platform: declare logical ones (the CPU
        # platform's bundles ask for CPUs only, so nothing is ever placed on them).
        "ray_kwargs": {"ray_init": {"num_cpus": 8, "num_gpus": 1}},
        "transfer_queue": {"backend": {"SimpleStorage": {"num_data_storage_units": 1}}},
    }


def _tools_yaml(folder: Path) -> Path:
    from verl_pixel.testing.agent_harness import tools_yaml

    return Path(tools_yaml(folder, image_max_pixels=SMOKE_MAX_PIXELS, crop_max_pixels=SMOKE_MAX_PIXELS))


def run_grpo_smoke(workdir: str | os.PathLike, steps: int = 2, timeout_s: int = 900) -> GRPOSmokeResult:
    """Run verl's ``main_ppo`` for ``steps`` GRPO steps on CPU; returns the logged metrics."""
    from verl_pixel.testing import build_tiny_qwen25vl

    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    model_dir = build_tiny_qwen25vl(work / "tiny-qwen25vl")
    train, val = write_rl_sample(work / "data")
    config = smoke_config(model_dir, train, val, _tools_yaml(work), work, steps)
    (work / "grpo_smoke.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    metrics_file, log_file = work / "grpo_metrics.jsonl", work / "grpo_train.log"
    env = {**os.environ, **CPU_RUN_ENV, "VERL_FILE_LOGGER_PATH": str(metrics_file), "RAY_AUTH_MODE": "disabled"}
    command = [sys.executable, "-m", "verl.trainer.main_ppo", f"--config-path={work}", "--config-name=grpo_smoke"]
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
