"""Image-token accounting probe: the prompt ``pixel_agent`` sends after a crop, as the rollout engine expands it.

The prompt is taken from verl itself: one trajectory runs through verl's ``AgentLoopWorker`` with ``pixel_agent``
and the model's tools (the family's tool YAML and chat template, as the recipes pass them), scripted to crop on its
first turn; its second request carries the input image and the crop, and those ids (each image's
``<|image_pad|>`` run expanded by verl's Continuous Token builder) and images are what the rollout engine receives.
Then the backend checks them:

* ``vllm`` (GPU): verl's vLLM server collapses each pad run to one token (``qwen2_5_vl_dedup_image_tokens``) and
  vLLM re-expands it with its own processor; vLLM's prompt token ids must equal the agent loop's ids.
* ``hf`` (CPU): each pad run must have the length the image processor's grid gives its image, and verl-pixel's
  ``hf`` server (:class:`~verl_pixel.backends.hf_server.HFRolloutServer`) must generate from those ids and images.

``verl-pixel smoke`` runs this module as a separate process (``python -m verl_pixel.smoke.token_accounting
--model DIR --backend hf|vllm``); it prints one JSON line: ``ok``, the pad runs, the tokens each image needs and
what was compared. The scripted crop is a test hook (a random-weight model never calls a tool): it fixes the
prompt's shape, not the numbers checked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from verl_pixel.backends.scripted_server import ScriptedLLMServer
from verl_pixel.constants import IMAGE_PAD
from verl_pixel.model_family import family_spec, resolve_family
from verl_pixel.ops.tool_call import tool_call_text
from verl_pixel.rollout.in_process import compose_ppo_config, image_prompt, make_worker, prompt_batch

PROBE_IMAGE = (640, 480)
QUESTION = "What colour is the square?"
CROP_BOXES = {"qwen2_5_vl": [0.05, 0.05, 0.45, 0.45], "qwen3_vl": [50, 50, 450, 450]}  # the square, in the family's
# coordinates


def agent_loop_request(model_dir: str | Path) -> tuple[list[int], list[Any], Any]:
    """The ids and images of ``pixel_agent``'s request after one crop, and the config it ran with."""
    from verl_pixel.configs import read_chat_template

    family = resolve_family(model_dir=model_dir)
    config = compose_ppo_config(model_dir)
    config.actor_rollout_ref.model.custom_chat_template = read_chat_template(family_spec(family).chat_template)
    tokenizer = _processor(model_dir, config).tokenizer
    crop = tool_call_text("crop_image", {"bbox_2d": CROP_BOXES[family.value]})
    server = ScriptedLLMServer(tokenizer, [crop, "\\boxed{red}"])
    prompts = prompt_batch([image_prompt([probe_image()], QUESTION)])

    async def run() -> None:
        await make_worker(config, server).generate_sequences(prompts)

    asyncio.run(run())
    second = next(request for request in server.calls if request.turn == 1)
    return list(second.prompt_ids), list(second.images), config


def probe_image() -> Image.Image:
    """White ``PROBE_IMAGE`` with a red square at (40, 40)-(200, 200), the region the scripted crop asks for."""
    image = Image.new("RGB", PROBE_IMAGE, "white")
    ImageDraw.Draw(image).rectangle([40, 40, 200, 200], fill="red")
    return image


def pad_runs(ids: list[int], pad_id: int) -> list[int]:
    """Lengths of the runs of ``pad_id`` in ``ids``, in order."""
    runs: list[int] = []
    previous = None
    for token in ids:
        if token == pad_id:
            if previous == pad_id:
                runs[-1] += 1
            else:
                runs.append(1)
        previous = token
    return runs


def image_tokens(processor: Any, images: list[Any]) -> list[int]:
    """Tokens the processor gives each image (grid t * h * w / merge**2)."""
    grids = processor.image_processor(images=images, return_tensors="pt")["image_grid_thw"]
    merge = processor.image_processor.merge_size
    return [int(grid.prod()) // merge**2 for grid in grids]


def check_hf(model_dir: str | Path, ids: list[int], images: list[Any], config: Any) -> dict[str, Any]:
    """Pad runs against the image grids, and one greedy token from the ``hf`` server on exactly this request."""
    from verl_pixel.backends.hf_server import HFRolloutServer

    config.actor_rollout_ref.rollout.load_format = "auto"
    config.actor_rollout_ref.rollout.dtype = "float32"
    config.actor_rollout_ref.model.override_config = {"attn_implementation": "sdpa"}
    server = HFRolloutServer(config.actor_rollout_ref.rollout, config.actor_rollout_ref.model)
    params = {"temperature": 0, "top_p": 1.0, "top_k": -1, "max_tokens": 1}
    output = asyncio.run(server.generate(prompt_ids=ids, sampling_params=params, request_id="probe", image_data=images))
    return {"generated": len(output.token_ids)}


def check_vllm(model_dir: str | Path, ids: list[int], images: list[Any], config: Any) -> dict[str, Any]:
    """vLLM's re-expansion of the deduplicated prompt (as verl's vLLM server sends it) against the agent loop's ids."""
    from verl.workers.rollout.utils import qwen2_5_vl_dedup_image_tokens
    from vllm import LLM, SamplingParams

    processor = _processor(model_dir, config)
    llm = LLM(
        model=str(model_dir),
        trust_remote_code=True,
        limit_mm_per_prompt={"image": len(images)},
        max_model_len=max(4096, 2 * len(ids)),
        enforce_eager=True,
        gpu_memory_utilization=0.3,
        seed=0,
    )
    prompt = {"prompt_token_ids": qwen2_5_vl_dedup_image_tokens(ids, processor), "multi_modal_data": {"image": images}}
    output = llm.generate(prompt, SamplingParams(max_tokens=1, temperature=0))[0]
    expanded = list(output.prompt_token_ids)
    first_difference = next((i for i, (a, b) in enumerate(zip(expanded, ids, strict=False)) if a != b), None)
    return {"vllm_prompt_equals": expanded == ids, "vllm_length": len(expanded), "first_difference": first_difference}


def _processor(model_dir: str | Path, config: Any) -> Any:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(model_dir), trust_remote_code=True)
    processor.chat_template = config.actor_rollout_ref.model.custom_chat_template
    return processor


def probe(model_dir: str | Path, backend: str) -> dict[str, Any]:
    """Run the probe; ``ok`` when the pad runs match the images and the backend's check holds."""
    ids, images, config = agent_loop_request(model_dir)
    processor = _processor(model_dir, config)
    runs = pad_runs(ids, processor.tokenizer.convert_tokens_to_ids(IMAGE_PAD))
    needed = image_tokens(processor, images)
    result: dict[str, Any] = {"backend": backend, "prompt_tokens": len(ids), "pad_runs": runs, "image_tokens": needed}
    result.update((check_vllm if backend == "vllm" else check_hf)(model_dir, ids, images, config))
    engine_ok = result.get("vllm_prompt_equals", True) and result.get("generated", 1) == 1
    result["ok"] = bool(len(images) == 2 and runs == needed and engine_ok)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m verl_pixel.smoke.token_accounting --model DIR --backend hf|vllm``: one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--backend", choices=("hf", "vllm"), default="hf")
    args = parser.parse_args(argv)
    result = probe(args.model, args.backend)
    sys.stdout.write(json.dumps(result) + "\n")  # the runner reads this one JSON line (a protocol, not a log)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
