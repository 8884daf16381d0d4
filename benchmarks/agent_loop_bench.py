"""Per-turn overhead of ``pixel_agent`` vs verl's stock ``ToolAgentLoop`` on the same scripted server and crop tool.

Both loops run through verl's real ``AgentLoopWorker`` in this process, on the same prompts (one image each),
the same 3-turn script (crop, crop of the crop, answer) and the same ``crop_image`` tool from
``verl_pixel/configs/tools/pixel_tools.yaml``. The scripted server returns instantly, so the time measured is the
loops' own work: tokenization, tool calls, continuous-token merging, postprocessing.

    python benchmarks/agent_loop_bench.py [--trajectories 32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time

os.environ.setdefault("VERL_PLATFORM", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from verl_pixel.testing.agent_harness import (
    call,
    compose_ppo_config,
    image_prompt,
    make_worker,
    prompt_batch,
    scene,
)
from verl_pixel.testing.fake_server import ScriptedLLMServer
from verl_pixel.tiny_models import cached_tiny_qwen25vl

SCRIPT = [
    "Let me look." + call(bbox_2d=[0.1, 0.1, 0.5, 0.5]),
    "Closer." + call(bbox_2d=[0.25, 0.25, 0.75, 0.75], target_image=2),
    "It is \\boxed{red}.",
]
TURNS = len(SCRIPT)


def run_once(worker, tokenizer, agent_name: str, n: int) -> float:
    worker.llm_client = ScriptedLLMServer(tokenizer, SCRIPT)
    batch = prompt_batch([image_prompt([scene()], "What color is the square?") for _ in range(n)])
    batch.non_tensor_batch["agent_name"][:] = agent_name
    start = time.perf_counter()
    out = asyncio.run(worker.generate_sequences(batch))
    elapsed = time.perf_counter() - start
    assert out.batch["responses"].shape[0] == n
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model_dir = cached_tiny_qwen25vl(os.environ.get("VERL_PIXEL_CACHE") or tempfile.mkdtemp())
    config = compose_ppo_config(model_dir)
    worker = make_worker(config, None)
    tokenizer = worker.tokenizer
    times: dict[str, list[float]] = {"tool_agent": [], "pixel_agent": []}
    for name in times:  # warm-up (imports, first tokenizer/processor calls)
        run_once(worker, tokenizer, name, 2)
    for _ in range(args.repeats):  # interleaved so machine noise hits both alike
        for name in times:
            times[name].append(run_once(worker, tokenizer, name, args.trajectories))
    turns = args.trajectories * TURNS
    print(f"{args.trajectories} trajectories x {TURNS} turns, {args.repeats} repeats (median)")
    print(f"{'loop':<14}{'median s':>10}{'ms / turn':>11}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<14}{median:>10.3f}{1000 * median / turns:>11.2f}")
    ratio = statistics.median(times["pixel_agent"]) / statistics.median(times["tool_agent"])
    print(f"pixel_agent / tool_agent per-turn time: {ratio:.3f}x (target <= 1.05x)")


if __name__ == "__main__":
    main()
