"""Every process that reads ``pixel`` validates the whole section, driven through verl's own classes.

The start-up check stops a run in the driver when the config declares it; these are the guards of a run launched
without it (verl's own ``ppo_trainer`` and ``+pixel...`` overrides): ``pixel_agent`` in the agent-loop worker, the
``pixel`` reward manager in the reward worker, and the replay buffer in the trainer (the one that also checks the
layout against ``rollout.n``, before any rollout). Before, ``pixel.rewards.method=none`` silently trained Look Less
and ``pixel.rolout...`` silently ran without probes.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from verl_pixel.testing.agent_harness import Rollouts, compose_ppo_config

pytestmark = pytest.mark.filterwarnings("ignore:.*load_extern_type.*:FutureWarning")  # verl's own loader warns

SECTION_TYPOS = [
    ("+pixel.rewards.method=none", "pixel.rewards: unknown section (known: probing, reward, rollout)"),
    ("+pixel.rolout.mode_layout.no_tool=1", "pixel.rolout: unknown section (known: probing, reward, rollout)"),
]
BUFFER = [
    "reward.reward_manager.name=pixel",
    "trainer.v1.sampler.custom_sampler.path=pkg://verl_pixel.reward.adapters.replay_buffer",
    "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer",
]


class Trainer:
    """What verl's ``PPOTrainer._build_replay_buffer`` reads from its trainer (it passes the bound refill method)."""

    from verl.trainer.ppo.v1.trainer_base import PPOTrainer

    _build_replay_buffer = PPOTrainer._build_replay_buffer

    def __init__(self, config) -> None:
        self.config = config
        self.trainer_mode = config.trainer.v1.trainer_mode

    def _add_prompts_to_generate(self, num_prompts: int) -> int:
        return num_prompts


@pytest.mark.parametrize(("override", "message"), SECTION_TYPOS)
def test_pixel_agent_refuses_a_typo_anywhere_in_the_section(tiny_model_dir, tiny_tokenizer, override, message):
    rollouts = Rollouts(tiny_model_dir, tiny_tokenizer, [override])
    with pytest.raises(Exception, match=re.escape(message)):  # verl's worker wraps it in hydra's InstantiationError
        rollouts.one([r"\boxed{A}"])


@pytest.mark.parametrize(("override", "message"), SECTION_TYPOS)
def test_reward_manager_refuses_a_typo_anywhere_in_the_section(tiny_model_dir, tiny_tokenizer, override, message):
    from verl.trainer.ppo.reward import load_reward_manager

    config = compose_ppo_config(tiny_model_dir, ["reward.reward_manager.name=pixel", override])

    async def build():  # RewardManagerBase captures the running event loop, as in its Ray actor
        return load_reward_manager(config, tiny_tokenizer)

    with pytest.raises(ValueError) as err:
        asyncio.run(build())
    assert str(err.value) == message


@pytest.mark.parametrize(("override", "message"), SECTION_TYPOS)
def test_replay_buffer_refuses_a_typo_anywhere_in_the_section(tiny_model_dir, override, message):
    config = compose_ppo_config(tiny_model_dir, [*BUFFER, "+pixel.reward.method=none", override])
    with pytest.raises(ValueError) as err:
        Trainer(config)._build_replay_buffer()
    assert str(err.value) == message


def test_replay_buffer_refuses_look_less_without_probes_before_any_rollout(tiny_model_dir):
    config = compose_ppo_config(tiny_model_dir, [*BUFFER, "actor_rollout_ref.rollout.n=8"])  # method: the default
    with pytest.raises(ValueError, match=r"^pixel\.reward\.method=look_less needs force_tool and no_tool probes"):
        Trainer(config)._build_replay_buffer()
    layout = ["+pixel.rollout.mode_layout.adaptive=4", "+pixel.rollout.mode_layout.force_tool=2"]
    probed = compose_ppo_config(tiny_model_dir, [*BUFFER, "actor_rollout_ref.rollout.n=6", *layout])
    with pytest.raises(ValueError, match=r"got adaptive=4, force_tool=2: "):  # one probe mode is not enough
        Trainer(probed)._build_replay_buffer()
    complete = compose_ppo_config(
        tiny_model_dir, [*BUFFER, "actor_rollout_ref.rollout.n=8", *layout, "+pixel.rollout.mode_layout.no_tool=2"]
    )
    assert Trainer(complete)._build_replay_buffer().reward_config.method == "look_less"
