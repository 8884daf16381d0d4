"""The GRPO runs of the look-or-not pipeline: each method's overrides compose on ``grpo_cpu.yaml`` as ``main_ppo``
composes them and pass verl-pixel's start-up check, with the layout the method needs."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from verl_pixel.configs import CONFIG_DIR
from verl_pixel.data.look_or_not_sets import TASK_TOOLS, LookOrNotRun
from verl_pixel.quickstart.look_or_not import METHOD_VARIANTS, GRPOSettings, grpo_overrides, mode_layout
from verl_pixel.record import RolloutMode
from verl_pixel.startup_check import check_trainer_config
from verl_pixel.tools.schema_yaml import write_tools_yaml


def _compose(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR / "cpu"), version_base=None):
        return compose("grpo_cpu", overrides=list(overrides))


@pytest.mark.parametrize("method", list(METHOD_VARIANTS))
def test_each_method_composes_and_passes_the_start_up_check(method, tmp_path):
    run = LookOrNotRun()
    tools = write_tools_yaml(tmp_path / "tools.yaml", run.ops(), TASK_TOOLS)
    settings = GRPOSettings(rollouts_per_prompt=8, val_samples=2)
    config = _compose(
        *grpo_overrides(method, settings, run), f"actor_rollout_ref.rollout.multi_turn.tool_config_path={tools}"
    )
    pixel = check_trainer_config(config)
    look_less = method.startswith("look_less")
    expected = {"adaptive": 4, "force_tool": 2, "no_tool": 2} if look_less else {"adaptive": 8}
    assert {mode.value: count for mode, count in pixel.rollout.mode_layout} == expected
    assert pixel.reward.method == ("look_less" if look_less else method)
    # need(x) from obeying probes, except the run that reproduces the first (collapsed) definition
    assert pixel.reward.look_less.probe_accuracy == ("all" if method == "look_less_all_probes" else "complied")
    rollout = config.actor_rollout_ref.rollout
    assert (rollout.n, rollout.val_kwargs.n, rollout.val_kwargs.do_sample) == (8, 2, True)
    assert config.data.max_pixels == run.view_max_pixels == 40 * 28 * 28
    assert (config.trainer.val_before_train, config.trainer.test_freq) == (True, settings.test_freq)
    # No test hook: tool calls are the model's own.
    assert "nudge_every" not in (rollout.engine_kwargs.get("hf") or {})


def test_look_less_layout_keeps_adaptive_rollouts_first_and_probes_equal():
    assert mode_layout("look_less", 4) == {"adaptive": 2, "force_tool": 1, "no_tool": 1}
    assert mode_layout("look_less", 16) == {"adaptive": 8, "force_tool": 4, "no_tool": 4}  # the paper's 8 + 4 + 4
    assert mode_layout("curiosity", 8) == {"adaptive": 8}
    assert RolloutMode.ADAPTIVE.value == next(iter(mode_layout("look_less", 8)))
