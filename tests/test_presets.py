"""Peer presets: Pixel Reasoner's first prompt byte for byte, DeepEyes' system prompt, and how presets compose.

The expected texts are written out here from the peers' sources, not produced by the code under test:

* Pixel Reasoner (TIGER-AI-Lab/Pixel-Reasoner a3a6c3a): the tools of ``curiosity_driven_rl/openrlhf/trainer/
  ppo_utils/experience_maker.py`` (``SelectFrames`` lines 48-69, ``CropImageNormalized`` lines 125-148, offered in
  that order at lines 1449-1453), serialized by Qwen-Agent's ``NousFnCallPrompt`` (``json.dumps(..., ensure_ascii=
  False)`` per tool, one per line, inside ``FN_CALL_TEMPLATE``, appended to the system message "You are a helpful
  assistant." after a blank line, ``get_required_messages`` line 1248); the user turn is the images, then
  ``question + templates["vcot"]`` (``openrlhf/datasets/prompts_dataset.py`` lines 37, 143-157); the stock
  Qwen2.5-VL template renders it. The rendered layout is the one the comment at ``experience_maker.py`` line 2753
  shows (that comment is of an older, one-tool variant).
* DeepEyes (Visual-Agent/DeepEyes 6c5e796): ``verl/workers/agent/envs/mm_process_engine/prompt.py``
  ``SYSTEM_PROMPT_V2``.
"""

from __future__ import annotations

import pytest
from PIL import Image

from verl_pixel.configs import read_chat_template
from verl_pixel.ops import VisualOpsConfig, tool_schemas
from verl_pixel.presets import PRESETS, jinja_string, preset, preset_chat_template, shell_settings
from verl_pixel.prompts import DEFAULT_GUIDELINES

PR_CROP = (
    '{"type": "function", "function": {"name": "crop_image_normalized", "description": "Zoom in on the image based '
    'on the bounding box coordinates. It is useful when the object or text in the image is too small to be seen.", '
    '"parameters": {"type": "object", "properties": {"bbox_2d": {"type": "array", "description": "coordinates for '
    'bounding box of the area you want to zoom in. Values should be within [0.0,1.0].", "items": {"type": "number"}}, '
    '"target_image": {"type": "number", "description": "The index of the image to crop. Index from 1 to the number '
    'of images. Choose 1 to operate on original image."}}, "required": ["bbox_2d", "target_image"]}}}'
)
PR_SELECT = (
    '{"type": "function", "function": {"name": "select_frames", "description": "Select frames from a video.", '
    '"parameters": {"type": "object", "properties": {"target_frames": {"type": "array", "description": "List of frame '
    'indices to select from the video (no more than 8 frames in total).", "items": {"type": "integer", '
    '"description": "Frame index from 1 to 16."}}}, "required": ["target_frames"]}}}'
)
QUESTION = "<image>\nWhat animal is depicted on the sign?\nchoices:\nA: Lion  \nB: Sheep  \nC: Tiger  \nD: Elephant"
PIXEL_REASONER_FIRST_PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with "
    "the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    + PR_CROP
    + "\n"
    + PR_SELECT
    + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
    "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>"
    + QUESTION
    + "\n\nGuidelines: Understand the given visual information and the user query. Determine if it is beneficial to "
    "employ the given visual operations (tools). For a video, we can look closer by `select_frames`. For an image, "
    "we can look closer by `crop_image`. Reason with the visual information step by step, and put your final answer "
    "within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n"
)
DEEPEYES_SYSTEM_PROMPT_V2 = (
    "You are a helpful assistant.\n\n# Tools\nYou may call one or more functions to assist with the user query.\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    '{"type":"function","function":{"name":"image_zoom_in_tool","description":"Zoom in on a specific region of an '
    'image by cropping it based on a bounding box (bbox) and an optional object label.","parameters":{"type":"object",'
    '"properties":{"bbox_2d":{"type":"array","items":{"type":"number"},"minItems":4,"maxItems":4,"description":"The '
    "bounding box of the region to zoom in, as [x1, y1, x2, y2], where (x1, y1) is the top-left corner and (x2, y2) "
    'is the bottom-right corner."},"label":{"type":"string","description":"The name or label of the object in the '
    'specified bounding box (optional)."}},"required":["bbox"]}}}\n</tools>\n\n# How to call a tool\nReturn a json '
    "object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>\n\n**Example**:  \n<tool_call>  \n'
    '{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [10, 20, 100, 200], "label": "the apple on the desk"}}'
    "  \n</tool_call>"
)


def _render(processor, template: str, messages, tools) -> str:
    return processor.apply_chat_template(
        messages, chat_template=template, tools=tools, add_generation_prompt=True, tokenize=False
    )


def _pr_messages():
    # As PixelRLDataset builds a `prepare pixel-reasoner-rl` row: the image item, then the text (literal <image> kept)
    text = {"type": "text", "text": QUESTION + DEFAULT_GUIDELINES}
    return [{"role": "user", "content": [{"type": "image", "image": Image.new("RGB", (56, 56))}, text]}]


def test_pixel_reasoner_first_prompt_byte_for_byte(tiny_processor):
    chosen = preset("pixel_reasoner")
    template = preset_chat_template(
        read_chat_template(chosen.template_name("qwen2_5_vl_tools.jinja")), chosen.tool_block
    )
    # verl hands the template the tool YAML's schemas (without `items`); the preset's block replaces them.
    tools = tool_schemas(chosen.ops_config())
    assert [tool["function"]["name"] for tool in tools] == ["crop_image_normalized", "select_frames"]
    assert _render(tiny_processor, template, _pr_messages(), tools) == PIXEL_REASONER_FIRST_PROMPT
    # The template our own preset uses renders our schemas instead: it is not Pixel Reasoner's prompt.
    ours = _render(tiny_processor, read_chat_template("qwen2_5_vl_tools.jinja"), _pr_messages(), tools)
    assert ours != PIXEL_REASONER_FIRST_PROMPT and '"crop_image_normalized"' in ours


def test_without_tools_the_preset_template_renders_no_tool_block(tiny_processor):
    chosen = preset("pixel_reasoner")
    template = preset_chat_template(read_chat_template("pixel_reasoner_tools.jinja"), chosen.tool_block)
    rendered = _render(tiny_processor, template, _pr_messages(), None)  # no_tool mode offers no tools
    assert rendered.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")


def test_deepeyes_system_prompt_byte_for_byte(tiny_processor):
    chosen = preset("deepeyes")
    template = preset_chat_template(read_chat_template("qwen2_5_vl_tools.jinja"), chosen.tool_block)
    messages = [{"role": "user", "content": [{"type": "text", "text": "Q" + chosen.guidelines}]}]
    rendered = _render(tiny_processor, template, messages, tool_schemas(chosen.ops_config()))
    assert rendered.startswith(f"<|im_start|>system\n{DEEPEYES_SYSTEM_PROMPT_V2}<|im_end|>\n<|im_start|>user\nQ\n")
    assert chosen.guidelines == (
        "\nThink first, call **image_zoom_in_tool** if needed, then answer. Format strictly as:  <think>...</think>  "
        "<tool_call>...</tool_call> (if tools needed)  <answer>...</answer> "
    )


def test_presets_set_behaviour_over_the_family_geometry():
    family = VisualOpsConfig(factor=32, min_side=32, min_pixels=65536, image_max_pixels=2048000,
                             crop_max_pixels=1024000, frame_max_pixels=409600, coordinates="relative1000")  # fmt: skip
    pr = preset("pixel_reasoner").ops_config(family)
    assert (pr.factor, pr.min_pixels, pr.image_max_pixels) == (32, 65536, 2048000)  # the family's geometry
    assert (pr.coordinates.value, pr.output_style.value, pr.crop_source.value) == (
        "auto",
        "pixel_reasoner",
        "model_view",
    )
    assert (pr.crop_tool_name, pr.budget_stop.value, pr.small_box.value) == ("crop_image_normalized", "end", "reject")
    de = preset("deepeyes").ops_config()
    assert (de.crop_tool_name, de.padding, de.min_side, de.max_aspect_ratio) == ("image_zoom_in_tool", 0.0, 30, 100.0)
    assert preset("verl_pixel").ops_config() == VisualOpsConfig()
    with pytest.raises(ValueError, match="unknown preset 'pixelreasoner'"):
        preset("pixelreasoner")


def test_template_substitution_is_exact_and_refuses_unknown_templates(tiny_processor):
    assert jinja_string("a'b\\c\nd") == "'a\\'b\\\\c\\nd'"
    base = read_chat_template("qwen2_5_vl_tools.jinja")
    assert preset_chat_template(base, None) == base
    # Qwen3-VL's template renders tools without a default system prompt: the block alone, the family's layout kept.
    qwen3 = preset_chat_template(read_chat_template("qwen3_vl_tools.jinja"), "# Tools\nBLOCK")
    rendered = _render(tiny_processor, qwen3, [{"role": "user", "content": "Q"}], [{"type": "function"}])
    assert (
        rendered
        == "<|im_start|>system\n# Tools\nBLOCK<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    )
    with pytest.raises(ValueError, match="0 Qwen tool sections"):
        preset_chat_template("{{ messages }}", "block")


def test_shell_settings_for_the_recipes():
    text = shell_settings("pixel_reasoner", "grpo")
    assert "PRESET_DEFAULT_TRAIN_BATCH_SIZE=512" in text and "PRESET_DEFAULT_PPO_MINI_BATCH_SIZE=32" in text
    assert (
        "actor_rollout_ref.actor.optim.min_lr_ratio=0.5" in text
        and "'actor_rollout_ref.actor.optim.betas=[0.9,0.95]'" in text
    )
    assert "output_style=pixel_reasoner" in text and "budget_stop=end" in text
    sft = shell_settings("pixel_reasoner", "sft")
    assert "PRESET_DEFAULT_TRAIN_BATCH_SIZE=16" in sft and "optim.weight_decay=0.0" in sft
    assert "global token mean" in sft and "global token mean" not in text  # each recipe prints its own notes
    assert set(PRESETS) == {"verl_pixel", "pixel_reasoner", "deepeyes"}


def test_pixel_reasoner_preset_through_verls_agent_loop(tiny_model_dir, tiny_tokenizer, tmp_path):
    """The prompt verl's AgentLoopWorker builds for a Pixel Reasoner row, and its tool output, with the preset."""
    import re

    from verl_pixel.testing.agent_harness import Rollouts, tools_yaml

    chosen = preset("pixel_reasoner")
    path = tools_yaml(tmp_path, **chosen.ops)
    r = Rollouts(tiny_model_dir, tiny_tokenizer, [f"actor_rollout_ref.rollout.multi_turn.tool_config_path={path}"])
    base = read_chat_template(chosen.template_name("qwen2_5_vl_tools.jinja"))
    r.config.actor_rollout_ref.model.custom_chat_template = preset_chat_template(base, chosen.tool_block)
    image = Image.new("RGB", (320, 240), "white")
    text = {"type": "text", "text": QUESTION + DEFAULT_GUIDELINES}
    prompt = [{"role": "user", "content": [{"type": "image", "image": image}, text]}]
    call = '<tool_call>\n{"name": "crop_image_normalized", "arguments": {"bbox_2d": [0.1, 0.1, 0.5, 0.5], ' \
        '"target_image": 1}}\n</tool_call>'  # fmt: skip
    out, server = r.batch(["Let me zoom in.\n" + call, "It is \\boxed{B}."], [prompt])
    first = tiny_tokenizer.decode(list(server.calls[0].prompt_ids))
    assert re.sub(r"(<\|image_pad\|>)+", "<|image_pad|>", first) == PIXEL_REASONER_FIRST_PROMPT
    second = tiny_tokenizer.decode(list(server.calls[1].prompt_ids))
    # Its tool output: a user turn, text first (experience_maker.py line 2314). The model sees 320x240 as 308x252
    # (smart_resize); [0.1, 0.5] + 0.1 padding of that view is [0, 0, 184.8, 151.2] -> 185x152 px, cut from the view
    # (crop_source model_view) and resized by smart_resize to 196x140.
    tail = re.sub(r"(<\|image_pad\|>)+", "<|image_pad|>", second[len(first) :])
    assert tail == (
        "Let me zoom in.\n" + call + "<|im_end|>\n<|im_start|>user\n\nHere is the cropped image (Image Size: 196x140):"
        "<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n"
    )
    assert out.non_tensor_batch["pixel/ops_succeeded"][0] == 1
