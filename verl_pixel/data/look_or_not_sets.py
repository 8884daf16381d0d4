"""The look-or-not task's training and evaluation files: SFT trajectories, RL rows, the tool YAML (pure).

::

    files = write_run_files("outputs/lookornot/data", LookOrNotRun())
    files.sft_train, files.sft_val       # synthesized trajectories (PixelSFTDataset)
    files.rl_train, files.rl_test        # RL rows (PixelRLDataset / pixel_agent), test = held-out split
    files.tools_yaml                     # crop_image only, view / crop budgets of the task

SFT mixture (METHOD §4, operation-aware SFT): a need question's trajectory zooms with probability
``zoom_share_need`` and answers text-only otherwise (a guess: the view does not show the pattern); a no-need
question's trajectory zooms with probability ``zoom_share_no_need``. The defaults leave RL something to decide
on both subsets: tool use can rise where it helps and fall where it does not. Zooming trajectories are
single-pass (one crop of the asked object's region in the named quadrant). The mixture reads ``needs_zoom``; no
reward ever does.

The rows offer ``crop_image`` only (a video tool means nothing here, and its schema would double the prompt),
with :data:`~verl_pixel.prompts.IMAGE_GUIDELINES` in the user turn and normalized boxes.
:func:`tokenizer_texts` gives the texts a tiny tokenizer should learn so that these prompts stay short.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verl_pixel.constants import QWEN25_VL_TOOL_TEMPLATE
from verl_pixel.data.look_or_not import CROP_TOKENS, VIEW_TOKENS, LookOrNotSpec, load_look_or_not
from verl_pixel.data.parquet_io import write_rl_parquet, write_sft_parquet
from verl_pixel.data.rl_prepare import RLPrepareConfig, seeds_to_rl_rows
from verl_pixel.data.seeds import SeedAnnotation
from verl_pixel.data.synthesis_config import SynthesisConfig
from verl_pixel.data.synthesize import synthesize
from verl_pixel.ops import CROP_TOOL_NAME, VisualOpsConfig
from verl_pixel.ops.config import QWEN2_5_VL_FACTOR, CoordinateConvention
from verl_pixel.prompts import DEFAULT_MODE_INSTRUCTIONS, DEFAULT_SYSTEM_PROMPT, IMAGE_GUIDELINES
from verl_pixel.record import RolloutMode

TASK_TOOLS = (CROP_TOOL_NAME,)
_SPECIAL_TOKEN = re.compile(r"<\|[^|>]*\|>")


@dataclasses.dataclass(frozen=True)
class LookOrNotRun:
    """The task's data for one run.

    Attributes:
        spec: what to draw (splits, sizes, seed).
        zoom_share_need: SFT: fraction of need questions whose trajectory zooms.
        zoom_share_no_need: SFT: fraction of no-need questions whose trajectory zooms.
        mode_share: SFT: fraction of rows that carry the rollout-mode instruction their trajectory obeys (a zoom:
            force_tool's; text only: no_tool's, with no tools offered), rendered as ``pixel_agent`` renders it, so
            that Look Less' probes measure accuracy with and without the tool (an SFT model that never saw the
            instructions obeyed force_tool in ~half of its probes, as often as it zoomed anyway).
        view_tokens: the model's view budget in visual tokens (``data.max_pixels`` = tokens * 28**2).
        crop_tokens: a crop's budget in visual tokens.
        seed: synthesis seed (which questions zoom, phrasing).
    """

    spec: LookOrNotSpec = dataclasses.field(default_factory=LookOrNotSpec)
    zoom_share_need: float = 0.9
    zoom_share_no_need: float = 0.3
    mode_share: float = 0.2
    view_tokens: int = VIEW_TOKENS
    crop_tokens: int = CROP_TOKENS
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("zoom_share_need", "zoom_share_no_need", "mode_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @property
    def view_max_pixels(self) -> int:
        """The view budget in pixels (``data.max_pixels`` of the RL run, ``image_max_pixels`` of the tools)."""
        return self.view_tokens * QWEN2_5_VL_FACTOR**2

    def ops(self) -> VisualOpsConfig:
        """The tool config: view and crop budgets, normalized boxes (the shortest schema text), no padding.

        No padding: the question names the region, and a tight crop shows the pattern large; else the tools'
        defaults.
        """
        return VisualOpsConfig(
            coordinates=CoordinateConvention.NORMALIZED,
            padding=0.0,
            image_max_pixels=self.view_max_pixels,
            crop_max_pixels=self.crop_tokens * QWEN2_5_VL_FACTOR**2,
        )

    def synthesis(self, zoom_share: float) -> SynthesisConfig:
        """Synthesis of single-pass zooms with ``1 - zoom_share`` of the seeds text-only, stored at the view."""
        return SynthesisConfig(
            single_pass=1.0, recrop_once=0.0, recrop_twice=0.0, further_zoom=0.0,
            text_only=1.0 - zoom_share, seed=self.seed, ops=self.ops(), input_max_pixels=self.view_max_pixels,
            tools=TASK_TOOLS, guidelines=IMAGE_GUIDELINES, narration="terse",
        )  # fmt: skip

    def rl_prepare(self, split: str) -> RLPrepareConfig:
        """RL rows with the same user turn as the SFT rows."""
        return RLPrepareConfig(guidelines=IMAGE_GUIDELINES, split=split)


@dataclasses.dataclass(frozen=True)
class RunFiles:
    """Where :func:`write_run_files` put things."""

    seeds_dir: Path
    sft_train: Path
    sft_val: Path
    rl_train: Path
    rl_test: Path
    tools_yaml: Path


def sft_rows(seeds: Sequence[SeedAnnotation], run: LookOrNotRun) -> list[dict[str, Any]]:
    """One synthesized trajectory per seed, in seed order, with the run's zoom shares per subset.

    ``run.mode_share`` of the rows (drawn by ``run.seed``) carry the mode instruction their trajectory obeys.
    """
    by_id: dict[str, dict[str, Any]] = {}
    for need, share in ((True, run.zoom_share_need), (False, run.zoom_share_no_need)):
        subset = [seed for seed in seeds if seed.needs_zoom is need]
        if subset:
            by_id.update({row["seed_id"]: row for row in synthesize(subset, run.synthesis(share)).rows})
    rng = random.Random(f"mode-rows:{run.seed}")
    rows = [by_id[seed.seed_id] for seed in seeds]
    return [with_mode_instruction_row(row) if rng.random() < run.mode_share else row for row in rows]


def with_mode_instruction_row(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with the system turn ``pixel_agent`` gives the mode its trajectory obeys (a copy).

    A trajectory with a tool call obeys force_tool; one without obeys no_tool, which also offers no tools.
    """
    zooms = any(message.get("tool_calls") for message in row["messages"])
    mode = RolloutMode.FORCE_TOOL if zooms else RolloutMode.NO_TOOL
    system = {"role": "system", "content": f"{DEFAULT_SYSTEM_PROMPT}\n\n{DEFAULT_MODE_INSTRUCTIONS[mode]}"}
    return {**row, "messages": [system, *row["messages"]], "tools": row["tools"] if zooms else "[]"}


def run_files(folder: str | Path) -> RunFiles:
    """Where :func:`write_run_files` puts the files under ``folder``."""
    out = Path(folder)
    return RunFiles(
        seeds_dir=out / "seeds",
        sft_train=out / "sft_train.parquet",
        sft_val=out / "sft_val.parquet",
        rl_train=out / "rl_train.parquet",
        rl_test=out / "rl_test.parquet",
        tools_yaml=out / "tools.yaml",
    )


def write_run_files(folder: str | Path, run: LookOrNotRun | None = None) -> RunFiles:
    """Draw the splits and write the SFT / RL parquets and the tool YAML under ``folder``."""
    from verl_pixel.tools.schema_yaml import write_tools_yaml

    run = run or LookOrNotRun()
    files = run_files(folder)
    splits = load_look_or_not(files.seeds_dir, run.spec)
    write_sft_parquet(sft_rows(splits["train"], run), files.sft_train)
    write_sft_parquet(sft_rows(splits["val"], run), files.sft_val)
    write_rl_parquet(seeds_to_rl_rows(splits["train"], run.rl_prepare("train")), files.rl_train)
    write_rl_parquet(seeds_to_rl_rows(splits["test"], run.rl_prepare("test")), files.rl_test)
    write_tools_yaml(files.tools_yaml, run.ops(), TASK_TOOLS)
    return files


def tokenizer_texts(rows: Sequence[dict[str, Any]], chat_template: str | None = None) -> tuple[str, ...]:
    """What a tiny tokenizer should learn for these rows: the text the model reads, not the text it writes.

    The rendered prompts (system prompt with the tool block, the user turn), the tool outputs' text and the system
    prompt with each mode's instruction. The assistant turns are left out, so the model's own text (reasoning,
    the call's box coordinates, the answer letter) stays as many tokens as the base corpus makes it.

    Args:
        rows: a sample of SFT rows (every question and tool-output form should occur in it).
        chat_template: the template the model will use (default: the package's Qwen2.5-VL tool template).
    """
    from verl_pixel.configs import read_chat_template
    from verl_pixel.tiny_models.tokenizer import build_tokenizer

    template = chat_template or read_chat_template(QWEN25_VL_TOOL_TEMPLATE)
    renderer = build_tokenizer(chat_template=template)
    texts = []
    for row in rows:
        messages = [_plain_message(message) for message in row["messages"]]
        tools = json.loads(row["tools"]) if isinstance(row.get("tools"), str) else row.get("tools")
        prompt = renderer.apply_chat_template(messages[:1], tools=tools, tokenize=False, add_generation_prompt=True)
        texts += [_SPECIAL_TOKEN.sub(" ", prompt), *(m["content"] for m in messages if m["role"] == "tool")]
    texts += [f"{DEFAULT_SYSTEM_PROMPT}\n\n{text}" for text in DEFAULT_MODE_INSTRUCTIONS.values() if text]
    return tuple(dict.fromkeys(texts))


def _plain_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the chat template takes it: placeholders dropped, tool-call arguments as objects."""
    out = {"role": message["role"], "content": (message.get("content") or "").replace("<image>", "")}
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {"type": "function", "function": {"name": call["function"]["name"], "arguments": _arguments(call)}}
            for call in message["tool_calls"]
        ]
    return out


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    arguments = call["function"]["arguments"]
    return json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
