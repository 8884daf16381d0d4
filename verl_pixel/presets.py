"""Peer presets: what a released Pixel Reasoner or DeepEyes checkpoint was trained with, in one switch (pure).

A *preset* fixes behaviour: the tools' names, descriptions and argument types as the model saw them in its system
prompt, how tool outputs look, the operation rules and limits, the prompt suffix and the training numbers. A *model
family* (``verl_pixel.model_family``: template, coordinates' patch factor, budgets in token units) fixes geometry.
They compose: the family's operation config, then the preset's :attr:`Preset.ops` over it; the family's chat
template, with the preset's tool block in place of the one rendered from the tool schemas.

Presets (``PRESET=`` in the recipes, ``--preset`` in ``eval run``; ``verl-pixel preset shell|template`` gives the
recipes their settings and chat template):

* ``verl_pixel``: ours (the default; nothing changed);
* ``pixel_reasoner``: TIGER-AI-Lab/Pixel-Reasoner (a3a6c3a). Its system prompt is Qwen-Agent's
  ``NousFnCallPrompt`` tool block (``qwen_agent/llm/fncall_prompts/nous_fncall_prompt.py``: ``FN_CALL_TEMPLATE``,
  each tool ``json.dumps({"type": "function", "function": tool.function}, ensure_ascii=False)``) appended to "You
  are a helpful assistant." after a blank line, for the two tools ``experience_maker.py`` offers (lines 1449-1453:
  ``crop_image_normalized``, lines 125-148, and ``select_frames``, lines 48-69). verl's ``OpenAIFunctionToolSchema``
  keeps only ``type`` / ``description`` / ``enum`` per argument and drops ``items``, so the block is rendered as text
  by the chat template (:func:`preset_chat_template`), not from the tool YAML;
* ``deepeyes``: Visual-Agent/DeepEyes (6c5e796) ``mm_process_engine/prompt.py`` ``SYSTEM_PROMPT_V2`` (its tool
  block, compact JSON included) and ``USER_PROMPT_V2``, ``image_zoom_in_tool`` without padding
  (``visual_toolbox_v2.py``), its format rule and reward.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verl_pixel.ops.config import VisualOpsConfig

QWEN_HERMES_TOOLS = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function "
    "signatures within <tools></tools> XML tags:\n<tools>\n{tool_descs}\n</tools>\n\nFor each function call, return a "
    "json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{{"name": <function-name>, "arguments": <args-json-object>}}\n</tool_call>'
)

PIXEL_REASONER_TOOLS = (
    {
        "name": "crop_image_normalized",
        "description": "Zoom in on the image based on the bounding box coordinates. It is useful when the object or "
        "text in the image is too small to be seen.",
        "parameters": {
            "type": "object",
            "properties": {
                "bbox_2d": {
                    "type": "array",
                    "description": "coordinates for bounding box of the area you want to zoom in. Values should be "
                    "within [0.0,1.0].",
                    "items": {"type": "number"},
                },
                "target_image": {
                    "type": "number",
                    "description": "The index of the image to crop. Index from 1 to the number of images. Choose 1 "
                    "to operate on original image.",
                },
            },
            "required": ["bbox_2d", "target_image"],
        },
    },
    {
        "name": "select_frames",
        "description": "Select frames from a video.",
        "parameters": {
            "type": "object",
            "properties": {
                "target_frames": {
                    "type": "array",
                    "description": "List of frame indices to select from the video (no more than 8 frames in total).",
                    "items": {"type": "integer", "description": "Frame index from 1 to 16."},
                }
            },
            "required": ["target_frames"],
        },
    },
)

DEEPEYES_ZOOM_TOOL = {
    "type": "function",
    "function": {
        "name": "image_zoom_in_tool",
        "description": "Zoom in on a specific region of an image by cropping it based on a bounding box (bbox) and an "
        "optional object label.",
        "parameters": {
            "type": "object",
            "properties": {
                "bbox_2d": {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": 4,
                    "maxItems": 4,
                    "description": "The bounding box of the region to zoom in, as [x1, y1, x2, y2], where (x1, y1) is "
                    "the top-left corner and (x2, y2) is the bottom-right corner.",
                },
                "label": {
                    "type": "string",
                    "description": "The name or label of the object in the specified bounding box (optional).",
                },
            },
            "required": ["bbox"],  # sic: DeepEyes' schema names "bbox", its tool reads "bbox_2d"
        },
    },
}
DEEPEYES_TOOLS_TEXT = (
    "# Tools\nYou may call one or more functions to assist with the user query.\nYou are provided with function "
    "signatures within <tools></tools> XML tags:\n<tools>\n{tool}\n</tools>\n\n# How to call a tool\nReturn a json "
    "object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{{"name": <function-name>, "arguments": <args-json-object>}}\n</tool_call>\n\n**Example**:  \n<tool_call>  \n'
    '{{"name": "image_zoom_in_tool", "arguments": {{"bbox_2d": [10, 20, 100, 200], "label": "the apple on the '
    'desk"}}}}  \n</tool_call>'
)
DEEPEYES_USER_PROMPT = (
    "\nThink first, call **image_zoom_in_tool** if needed, then answer. Format strictly as:  <think>...</think>  "
    "<tool_call>...</tool_call> (if tools needed)  <answer>...</answer> "
)


def pixel_reasoner_tool_block() -> str:
    """Pixel Reasoner's tool section of the system turn, as Qwen-Agent's ``NousFnCallPrompt`` writes it."""
    lines = [json.dumps({"type": "function", "function": tool}, ensure_ascii=False) for tool in PIXEL_REASONER_TOOLS]
    return QWEN_HERMES_TOOLS.format(tool_descs="\n".join(lines))


def deepeyes_tool_block() -> str:
    """DeepEyes' ``SYSTEM_PROMPT_V2`` after its first line "You are a helpful assistant." and the blank line."""
    return DEEPEYES_TOOLS_TEXT.format(tool=json.dumps(DEEPEYES_ZOOM_TOOL, separators=(",", ":")))


@dataclasses.dataclass(frozen=True)
class Preset:
    """What a preset fixes (module docstring).

    Attributes:
        name: the preset's name.
        summary: one line for listings.
        ops: ``VisualOpsConfig`` fields set over the family's config (behaviour, never geometry).
        tool_block: the tool section of the system turn, byte for byte (``None``: rendered from the tool schemas).
        output_template: for a family template name, the template with the preset's tool-output layout
            (Pixel Reasoner: its tool outputs are plain user turns, ``pixel_reasoner_tools.jinja``).
        guidelines: the text the preset's questions end with (``None``: the rows' own).
        grpo_overrides: Hydra overrides the GRPO recipes append (before the user's own).
        grpo_defaults: recipe variables the preset gives a default (the user's setting wins).
        sft_overrides: Hydra overrides the SFT recipe appends.
        sft_defaults: SFT recipe variables the preset gives a default.
        grpo_not_expressible: what the peer's RL does that verl 0.9.1 / verl-pixel cannot, printed by the recipes.
        sft_not_expressible: likewise for its SFT.
    """

    name: str
    summary: str
    ops: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    tool_block: str | None = None
    output_template: Mapping[str, str] = dataclasses.field(default_factory=dict)
    guidelines: str | None = None
    grpo_overrides: tuple[str, ...] = ()
    grpo_defaults: Mapping[str, str] = dataclasses.field(default_factory=dict)
    sft_overrides: tuple[str, ...] = ()
    sft_defaults: Mapping[str, str] = dataclasses.field(default_factory=dict)
    grpo_not_expressible: tuple[str, ...] = ()
    sft_not_expressible: tuple[str, ...] = ()

    def ops_config(self, base: VisualOpsConfig | None = None) -> VisualOpsConfig:
        """The preset's operation config over ``base`` (the family's; default Qwen2.5-VL's)."""
        return VisualOpsConfig.from_mapping({**(base or VisualOpsConfig()).to_mapping(), **self.ops})

    def tool_settings(self) -> list[str]:
        """The preset's operation fields as ``KEY=VALUE`` (the tool YAML writer's ``--set`` form)."""
        return [f"{key}={value}" for key, value in self.ops.items()]

    def template_name(self, family_template: str) -> str:
        """The packaged template this preset renders with, for a family's template name."""
        return self.output_template.get(family_template, family_template)


PIXEL_REASONER = Preset(
    name="pixel_reasoner",
    summary="Pixel Reasoner's tools, prompt, tool outputs, limits and RL numbers",
    ops={
        "crop_tool_name": "crop_image_normalized",
        "coordinates": "auto",  # normalized if all values < 1, else pixels (experience_maker.py lines 150-158)
        "padding": 0.1,
        "small_box": "reject",  # assert w > 28 and h > 28 (line 161)
        "crop_source": "model_view",  # crops of the resized images it saw (lines 2148-2158, 1234-1238)
        "output_style": "pixel_reasoner",
        "crop_video_frames": True,  # crop_image_normalized may target a video's frames (lines 1208-1218)
        "budget_stop": "end",  # num_toolcalls > 3 ends the trajectory (line 2246)
        "max_operations": 4,
        "max_images": 16,  # max_imgnum
        "max_frames_per_call": 8,
    },
    tool_block=pixel_reasoner_tool_block(),
    output_template={"qwen2_5_vl_tools.jinja": "pixel_reasoner_tools.jinja"},
    grpo_overrides=(
        "actor_rollout_ref.actor.optim.min_lr_ratio=0.5",  # ppo_actor.py 391-397: cosine_with_min_lr, 0.5 lr
        "actor_rollout_ref.actor.optim.weight_decay=0.0",  # train_ppo_ray.py 298: --l2 0.0
        "actor_rollout_ref.actor.optim.betas=[0.9,0.95]",  # train_ppo_ray.py 330: --adam_betas
        # `++`: add or override (the pixel section of a recipe yaml may not name the key)
        "++pixel.reward.curiosity.variant=released_code",  # the code that trained the released checkpoints
        "++pixel.reward.curiosity.unparsable_score=-1.0",  # do_verify: -1.0 when math-verify parses nothing
        "++pixel.reward.uniform_threshold=0.01",  # groups with mean |r - mean| < 0.01 dropped (line 2462)
        "group_filter=drop_near_uniform",
    ),
    # README: rbuffer=512 prompts x 8 rollouts per rollout batch, bsz=256 samples per optimizer step: 16 updates.
    grpo_defaults={"TRAIN_BATCH_SIZE": "512", "PPO_MINI_BATCH_SIZE": "32"},
    sft_overrides=("optim.weight_decay=0.0",),  # HF Trainer default of instruction_tuning/sft.sh
    sft_defaults={"TRAIN_BATCH_SIZE": "16"},  # sft.sh: 8 GPUs x per-device 1 x gradient accumulation 2
    grpo_not_expressible=(
        "turns after a tool call sampled at temperature 0.9 (experience_maker.py 2368-2370): verl samples every "
        "turn alike",
        "refilling filtered groups by repeating survivors, and Selective Sample Replay (replay_buffer.py 401-510): "
        "verl refills with new prompts",
        "one length cap over prompt + output (12*1024-200 tokens) and 2048 tokens per turn: verl caps prompt and "
        "response separately",
        "the call that ends a trajectory counts in n_vo (num_toolcalls): here it is not run and not counted",
        "video numbering after select_frames (target_image 2 = the first selected frame): here frames are 1..16, "
        "selected frames 17 on",
    ),
    sft_not_expressible=(
        "per-sample loss mean with the turn header trained (sft_tooltrainer.py 309-345, 416): verl's SFT loss "
        "is a global token mean",
        "vision tower frozen (--freeze_vision_modules): no key of verl 0.9.1's SFT trainer freezes it",
    ),
)

DEEPEYES = Preset(
    name="deepeyes",
    summary="DeepEyes' zoom tool, prompt, format rule and crop rules",
    ops={
        "crop_tool_name": "image_zoom_in_tool",
        "coordinates": "pixels",
        "padding": 0.0,
        "small_box": "reject",  # validate_bbox: min(height, width) > 30
        "min_side": 30,
        "max_aspect_ratio": 100.0,
    },
    tool_block=deepeyes_tool_block(),
    guidelines=DEEPEYES_USER_PROMPT,
    grpo_overrides=("++pixel.reward.format.rule=deepeyes",),
    grpo_not_expressible=(
        "accuracy from a Qwen2.5-72B judge: verl-pixel scores with its rule-based scorers",
        "tool outputs '<tool_response><image>' + USER_PROMPT_V2 + '</tool_response>': shown in verl-pixel's layout",
        "crops of the stored original read with model-view coordinates (DeepEyes#141): here coordinates are mapped",
    ),
)

VERL_PIXEL = Preset(name="verl_pixel", summary="verl-pixel's own tools, prompt and numbers (no change)")

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (VERL_PIXEL, PIXEL_REASONER, DEEPEYES)}

# The tool section of the Qwen templates: from the literal opening "# Tools" to the one closing the system turn,
# the loop over the tool schemas in between (qwen2_5_vl_tools.jinja, pixel_reasoner_tools.jinja, qwen3_vl_tools).
_TOOL_SECTION = re.compile(
    r"\{\{- '(?P<lead>(?:\\n)*)# Tools\\n\\nYou may call one or more functions.*?</tool_call><\|im_end\|>\\n' -\}\}",
    re.DOTALL,
)


def preset(name: str) -> Preset:
    """The preset of that name.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name]


def jinja_string(text: str) -> str:
    """``text`` as a single-quoted Jinja string literal."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def preset_chat_template(template: str, tool_block: str | None) -> str:
    """A chat template's text with its tool section replaced by ``tool_block`` (unchanged for ``None``).

    The section starts at the literal ``# Tools`` and ends with the ``<|im_end|>`` closing the system turn; the
    system prompt before it and every other turn stay the template's own.

    Raises:
        ValueError: if the template has no such section (or more than one).
    """
    if tool_block is None:
        return template
    matches = list(_TOOL_SECTION.finditer(template))
    if len(matches) != 1:
        raise ValueError(f"the chat template has {len(matches)} Qwen tool sections; expected exactly one")
    lead = matches[0].group("lead").replace("\\n", "\n")
    replacement = "{{- " + jinja_string(lead + tool_block + "<|im_end|>\n") + " -}}"
    return template[: matches[0].start()] + replacement + template[matches[0].end() :]


def shell_settings(name: str, recipe: str) -> str:
    """Shell assignments for a recipe: ``PRESET_*`` arrays and the defaults the preset gives its variables."""
    chosen = preset(name)
    grpo = recipe == "grpo"
    overrides = chosen.grpo_overrides if grpo else chosen.sft_overrides
    defaults = chosen.grpo_defaults if grpo else chosen.sft_defaults
    notes = chosen.grpo_not_expressible if grpo else chosen.sft_not_expressible
    lines = [
        f"PRESET_TOOL_SETTINGS=({' '.join(shlex.quote(s) for s in chosen.tool_settings())})",
        f"PRESET_OVERRIDES=({' '.join(shlex.quote(o) for o in overrides)})",
        f"PRESET_NOT_EXPRESSIBLE=({' '.join(shlex.quote(n) for n in notes)})",
    ]
    lines += [f"PRESET_DEFAULT_{key}={shlex.quote(value)}" for key, value in defaults.items()]
    return "\n".join(lines)


def write_preset_template(name: str, base: str, output: str | Path) -> Path:
    """Write the chat template of preset ``name`` for a family's packaged template ``base`` to ``output``."""
    from verl_pixel.configs import read_chat_template

    chosen = preset(name)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(preset_chat_template(read_chat_template(chosen.template_name(base)), chosen.tool_block))
    return out
