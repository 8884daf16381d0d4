"""verl's ``AgentLoopWorker`` in-process, around any LLM client that speaks verl's ``generate`` interface.

The config is verl's own ``ppo_trainer`` composed with hydra for ``pixel_agent`` (the model folder's family's tool
preset), the batch is laid out as verl's V1 trainer feeds ``AgentLoopWorker.generate_sequences``, and the worker is
verl's (its Ray wrapper aside). The tests and benchmarks drive the loop this way with scripted servers (the test
kit's ``agent_harness`` re-exports these helpers), and ``verl-pixel smoke``'s token-accounting probe uses it to
capture the exact prompt ``pixel_agent`` sends after a crop.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from verl_pixel.model_family import resolve_family
from verl_pixel.tools.schema_yaml import SHIPPED_YAML


def verl_config_dir() -> str:
    """Folder of verl's packaged hydra configs."""
    import verl

    return os.path.join(os.path.dirname(verl.__file__), "trainer", "config")


def compose_ppo_config(model_dir: str | Path, overrides: Sequence[str] = ()) -> DictConfig:
    """verl's ``ppo_trainer`` config for a tiny model and the ``pixel_agent`` loop, plus ``overrides``.

    The tools get the preset of the model folder's family (read from its ``config.json``).
    """
    tools = SHIPPED_YAML[resolve_family(model_dir=model_dir).value]
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    base = [
        f"actor_rollout_ref.model.path={model_dir}",
        "actor_rollout_ref.model.trust_remote_code=True",
        "actor_rollout_ref.rollout.name=vllm",  # only consulted for backend-specific kwargs here
        "actor_rollout_ref.rollout.prompt_length=4096",
        "actor_rollout_ref.rollout.response_length=2048",
        "actor_rollout_ref.rollout.multi_turn.enable=True",
        "actor_rollout_ref.rollout.multi_turn.max_assistant_turns=6",
        f"actor_rollout_ref.rollout.multi_turn.tool_config_path={tools}",
        "actor_rollout_ref.rollout.agent.default_agent_loop=pixel_agent",
        "data.custom_cls.path=pkg://verl_pixel.data.rl_dataset",
        "data.custom_cls.name=PixelRLDataset",
        "data.max_prompt_length=4096",
        "data.max_response_length=2048",
    ]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
        return compose(config_name="ppo_trainer", overrides=[*base, *overrides])


def image_prompt(images: Sequence[Any], question: str, system: str | None = None) -> list[dict[str, Any]]:
    """A raw prompt as verl's RL dataset builds it: image items, then the question."""
    content = [{"type": "image", "image": image} for image in images] + [{"type": "text", "text": question}]
    messages = [{"role": "user", "content": content}]
    return ([{"role": "system", "content": system}] if system else []) + messages


def prompt_batch(prompts: Sequence[list[dict]], session_ids: Sequence[int] | None = None, **columns: Sequence):
    """A ``DataProto`` of raw prompts laid out like verl V1 feeds ``AgentLoopWorker.generate_sequences``."""
    from verl import DataProto

    n = len(prompts)
    non_tensors: dict[str, np.ndarray] = {
        "raw_prompt": _objects(list(prompts)),
        "agent_name": _objects(["pixel_agent"] * n),
        "tools_kwargs": _objects([{} for _ in range(n)]),
        "index": np.arange(n),
    }
    if session_ids is not None:
        non_tensors["session_id"] = np.asarray(session_ids)
    non_tensors.update({key: _objects(list(values)) for key, values in columns.items()})
    return DataProto.from_dict(tensors={"dummy_tensor": torch.zeros(n, 1)}, non_tensors=non_tensors)


def _objects(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def make_worker(config: DictConfig, server: Any) -> Any:
    """verl's ``AgentLoopWorker`` built in-process around ``server`` (tools loaded from the config's YAML)."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker

    return AgentLoopWorker(config, llm_client=server)
