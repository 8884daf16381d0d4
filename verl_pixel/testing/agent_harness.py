"""Run agent loops through verl's real ``AgentLoopWorker`` in-process, with a fake LLM server.

Used by the tests, the benchmarks and the examples: the config, batch and worker come from
:mod:`verl_pixel.rollout.in_process` (verl's own ``ppo_trainer`` config and ``AgentLoopWorker``, re-exported here),
and only the LLM server is a stand-in (:mod:`verl_pixel.testing.fake_server`).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from verl_pixel.model_family import ModelFamily
from verl_pixel.ops.tool_call import tool_call_text
from verl_pixel.rollout.in_process import compose_ppo_config, image_prompt, make_worker, prompt_batch, verl_config_dir
from verl_pixel.testing.fake_server import ScriptedLLMServer
from verl_pixel.tools.schema_yaml import ops_config, write_tools_yaml

__all__ = [
    "Rollouts", "call", "compose_ppo_config", "image_prompt", "make_worker", "prompt_batch", "scene", "tools_yaml",
    "verl_config_dir", "video_prompt",
]  # fmt: skip


def video_prompt(frames: Sequence[Any], question: str, **keys: Any) -> list[dict[str, Any]]:
    """A raw prompt with one video item (its frames, plus qwen_vl_utils keys such as ``max_pixels``), then text."""
    return [
        {
            "role": "user",
            "content": [{"type": "video", "video": list(frames), **keys}, {"type": "text", "text": question}],
        }
    ]


def call(name: str = "crop_image", **arguments: Any) -> str:
    """A Hermes tool-call block as the model writes it."""
    return tool_call_text(name, arguments)


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
