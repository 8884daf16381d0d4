"""Run agent loops through verl's real ``AgentLoopWorker`` in-process, with a fake LLM server.

Used by the tests, the benchmarks and the examples: the config is verl's own ``ppo_trainer`` composed with hydra,
the worker is verl's ``AgentLoopWorker`` (its Ray wrapper aside), and only the LLM server is a stand-in
(:mod:`verl_pixel.testing.fake_server`).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image, ImageDraw

from verl_pixel.model_family import ModelFamily, resolve_family
from verl_pixel.testing.fake_server import ScriptedLLMServer
from verl_pixel.tools.schema_yaml import SHIPPED_YAML, ops_config, write_tools_yaml


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


def video_prompt(frames: Sequence[Any], question: str, **keys: Any) -> list[dict[str, Any]]:
    """A raw prompt with one video item (its frames, plus qwen_vl_utils keys such as ``max_pixels``), then text."""
    return [
        {
            "role": "user",
            "content": [{"type": "video", "video": list(frames), **keys}, {"type": "text", "text": question}],
        }
    ]


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


def call(name: str = "crop_image", **arguments: Any) -> str:
    """A Hermes tool-call block as the model writes it."""
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def scene(size: tuple[int, int] = (320, 240), color: str = "red") -> Image.Image:
    """White image with a small coloured square at (40, 40)-(80, 80)."""
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).rectangle([40, 40, 80, 80], fill=color)
    return img


def tools_yaml(tmp_path: Path, family: str = ModelFamily.QWEN2_5_VL.value, **config: Any) -> str:
    """A tool YAML with ``config`` overrides of a family's operation config, written by the one writer."""
    return str(write_tools_yaml(tmp_path / "tools.yaml", ops_config(family, overrides=config)))


class Rollouts:
    """Runs prompts through verl's ``AgentLoopWorker`` with a :class:`ScriptedLLMServer`."""

    def __init__(self, model_dir: str | Path, tokenizer: Any, overrides: Sequence[str] = ()):
        self.config = compose_ppo_config(model_dir, overrides)
        self.tokenizer = tokenizer

    def batch(
        self,
        script: Any,
        prompts: Sequence[list[dict]],
        session_ids: Sequence[int] | None = None,
        response_length: int | None = None,
        columns: dict[str, Sequence[Any]] | None = None,
    ) -> tuple[Any, ScriptedLLMServer]:
        """Roll out ``prompts`` with ``script``; returns verl's output ``DataProto`` and the server.

        ``columns`` adds row columns (e.g. ``extra_info``) to the batch.
        """
        server = ScriptedLLMServer(self.tokenizer, script)
        config = self.config
        if response_length is not None:  # read per trajectory by the loop; a copy keeps the shared config intact
            config = copy.deepcopy(self.config)
            config.actor_rollout_ref.rollout.response_length = response_length

        async def go():
            batch = prompt_batch(prompts, session_ids=session_ids, **(columns or {}))
            return await make_worker(config, server).generate_sequences(batch)

        return asyncio.run(go()), server

    def one(
        self,
        script: Any,
        image: Image.Image | None = None,
        question: str = "What color is the square?",
        session_id: int | None = None,
        **kw: Any,
    ) -> tuple[Any, ScriptedLLMServer]:
        """Roll out one image prompt."""
        out, server = self.batch(script, [image_prompt([image or scene()], question)], [session_id or 0], **kw)
        return out, server
