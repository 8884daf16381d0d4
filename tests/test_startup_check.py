"""The start-up check: a bad verl-pixel key stops ``main_ppo`` in the driver, before Ray starts, naming the key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from verl_pixel.configs import CONFIG_DIR
from verl_pixel.record import RolloutMode
from verl_pixel.startup_check import PixelConfigCheck, check_trainer_config
from verl_pixel.tools.schema_yaml import DEFAULT_YAML_PATH

CPU_CONFIG_DIR = str(CONFIG_DIR / "cpu")
TOOLS = f"actor_rollout_ref.rollout.multi_turn.tool_config_path={DEFAULT_YAML_PATH}"


def compose_cpu(*overrides: str, return_hydra_config: bool = False):
    """``verl_pixel/configs/cpu/grpo_cpu.yaml`` composed as ``main_ppo`` composes it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CPU_CONFIG_DIR, version_base=None):
        return compose("grpo_cpu", overrides=list(overrides), return_hydra_config=return_hydra_config)


def test_the_cpu_config_declares_the_check_and_passes_it():
    callbacks = compose_cpu(return_hydra_config=True).hydra.callbacks
    assert callbacks.pixel_config_check._target_ == "verl_pixel.startup_check.PixelConfigCheck"
    pixel = check_trainer_config(compose_cpu(TOOLS))
    modes = (RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL)
    assert pixel.rollout.mode_layout == tuple(zip(modes, (2, 1, 1), strict=True))
    assert pixel.reward.method == "look_less"


def test_the_check_can_be_added_to_verls_own_ppo_trainer_on_the_command_line():
    from verl_pixel.testing.agent_harness import verl_config_dir

    target = "verl_pixel.startup_check.PixelConfigCheck"  # the README's override
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
        config = compose(
            "ppo_trainer", [f"+hydra.callbacks.pixel_config_check._target_={target}"], return_hydra_config=True
        )
    assert config.hydra.callbacks.pixel_config_check._target_ == target


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+pixel.rewards.method=none"], "pixel.rewards: unknown section (known: probing, reward, rollout)"),
        (["actor_rollout_ref.rollout.n=8"], "pixel.rollout.mode_layout sums to 4 (adaptive=2, force_tool=1, no_tool=1) "
         "but actor_rollout_ref.rollout.n=8: "),
        (["pixel.rollout.mode_layout.adaptive=4", "~pixel.rollout.mode_layout.force_tool",
          "~pixel.rollout.mode_layout.no_tool"], "pixel.reward.method=look_less needs force_tool and no_tool probes "
         "in pixel.rollout.mode_layout, got adaptive=4: "),
        (["+actor_rollout_ref.rollout.engine_kwargs.hf.max_batch=8"], "actor_rollout_ref.rollout.engine_kwargs.hf."
         "max_batch: unknown key (known: max_batch_size, nudge_every, nudge_followup_text, nudge_text, "
         "suppress_vision_tokens)"),
        (["actor_rollout_ref.rollout.multi_turn.tool_config_path=/no/tools.yaml"],
         "actor_rollout_ref.rollout.multi_turn.tool_config_path=/no/tools.yaml: no such file"),
        (["+pixel.probing.enable=true", "data.dataloader_num_workers=2"], "pixel.probing.enable=true needs "
         "data.dataloader_num_workers=0, got 2"),
        (["+pixel.probing.enable=true", "data.custom_cls.name=MyDataset"], "pixel.probing.enable=true needs "
         "data.custom_cls.name=PixelRLDataset"),
        (["+pixel.probing.decai=0.5"], "pixel.probing.decai: unknown key"),
        (["pixel.reward.method=hdpo"], "pixel.reward.method=hdpo writes finished advantages"),
        (["pixel.reward.method=hdpo", "algorithm.adv_estimator=pixel_precomputed", "algorithm.use_kl_in_reward=true"],
         "pixel.reward.method=hdpo with algorithm.use_kl_in_reward=True"),
    ],
)  # fmt: skip
def test_each_part_of_the_check_names_the_key(overrides, message):
    with pytest.raises(ValueError) as err:
        check_trainer_config(compose_cpu(TOOLS, *overrides))
    assert str(err.value).startswith(message)


def test_the_callback_exits_because_hydra_would_only_warn_about_an_exception():
    with pytest.raises(SystemExit) as err:
        PixelConfigCheck().on_job_start(config=compose_cpu("+pixel.rolout.mode_layout.no_tool=1"), task_function=None)
    assert err.value.code == "verl-pixel config error: pixel.rolout: unknown section (known: probing, reward, rollout)"


def test_main_ppo_stops_before_ray_starts_naming_the_misspelled_key(tmp_path: Path):
    """The real ``python -m verl.trainer.main_ppo`` with the CPU config, as the quick start runs it."""
    from verl_pixel.quickstart.sft import CPU_RUN_ENV

    command = [sys.executable, "-m", "verl.trainer.main_ppo", f"--config-path={CPU_CONFIG_DIR}",
               "--config-name=grpo_cpu", "+pixel.rollout.mode_layot.adaptive=1"]  # fmt: skip
    env = {**os.environ, **CPU_RUN_ENV, "RAY_AUTH_MODE": "disabled"}
    start = time.monotonic()
    proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "verl-pixel config error: pixel.rollout.mode_layot: unknown key "
        "(known: default_system_prompt, instructions, mode_layout)"
    )
    # before Ray: main_ppo prints its ray.init kwargs right before ray.init, and Ray announces its local instance
    assert "ray init kwargs" not in output and "Started a local Ray instance" not in output
    assert elapsed < 60, elapsed  # ~6 s on 2 busy cores, nearly all of it importing verl; a run that got to Ray: 25+ s
