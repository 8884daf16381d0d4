"""The pixel tools of a run share one operation config: ``pixel_agent`` refuses a tool YAML where they differ."""

from __future__ import annotations

import pytest
import yaml
from hydra.errors import InstantiationException

from verl_pixel.ops import VisualOpsConfig
from verl_pixel.startup_check import check_trainer_config
from verl_pixel.testing.agent_harness import Rollouts, call, compose_ppo_config
from verl_pixel.tools.schema_yaml import write_tools_yaml


def disagreeing_tools_yaml(tmp_path):
    path = write_tools_yaml(tmp_path / "tools.yaml", VisualOpsConfig())
    document = yaml.safe_load(path.read_text())
    document["tools"][1]["config"]["max_operations"] = 2  # select_frames alone: the budget would depend on the tool
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_start_up_check_refuses_tools_that_disagree(tiny_model_dir, tmp_path):
    path = disagreeing_tools_yaml(tmp_path)
    key = "actor_rollout_ref.rollout.multi_turn.tool_config_path"
    with pytest.raises(ValueError) as err:
        check_trainer_config(compose_ppo_config(tiny_model_dir, [f"{key}={path}", "+pixel.reward.method=none"]))
    assert str(err.value).startswith(
        f"{key}={path}: tools[0].config and tools[1].config differ (max_operations: 4 vs 2)"
    )


def test_pixel_agent_refuses_tools_that_disagree(tiny_model_dir, tiny_tokenizer, tmp_path):
    path = disagreeing_tools_yaml(tmp_path)
    override = f"actor_rollout_ref.rollout.multi_turn.tool_config_path={path}"
    rollouts = Rollouts(tiny_model_dir, tiny_tokenizer, [override])
    with pytest.raises(InstantiationException) as err:  # verl builds the loop with hydra.utils.instantiate
        rollouts.one([call(bbox_2d=[0.1, 0.1, 0.5, 0.5]), "\\boxed{A}"])
    assert isinstance(err.value.__cause__, ValueError)
    assert str(err.value.__cause__).startswith(
        "multi_turn.tool_config_path: crop_image and select_frames differ (max_operations: 4 vs 2)"
    )
