"""The offline tiny kits (Qwen2.5-VL, Qwen3-VL): token ids, processor token counts, generation, loaders, templates.

Behaviours both families share are written once and run per family (the ``family`` fixture); the rest states what
differs. Qwen3-VL's expected renderings are written out from Qwen3-VL's own chat template (Qwen/Qwen3-VL-8B-Instruct
``chat_template.json``; the same text ships in the Qwen3-VL-8B-Instruct GGUF and is mirrored byte for byte in e.g.
zhongkaifu/TensorSharp's QwenImageIntentScorerTests.cs): where that template renders something, ours must render
exactly the same bytes.
"""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from verl_pixel.constants import QWEN3_ADDED_TOKENS, QWEN_ADDED_TOKENS, QWEN_SPECIAL_TOKENS

IMAGE = {"type": "image"}


def _user(text: str, image: bool = True) -> dict:
    return {"role": "user", "content": ([IMAGE] if image else []) + [{"type": "text", "text": text}]}


CALL = {"type": "function", "function": {"name": "crop_image", "arguments": {"bbox_2d": [10, 20, 30, 40]}}}
CONVERSATION = [
    {"role": "system", "content": "You look closely."},
    _user("What color is the square?"),
    {"role": "assistant", "content": "Let me zoom in.", "tool_calls": [CALL]},
    {"role": "tool", "content": [IMAGE, {"type": "text", "text": "Cropped."}]},
    {"role": "assistant", "content": "It is \\boxed{red}."},
]
TOOLS = [{"type": "function", "function": {"name": "crop_image", "parameters": {"type": "object"}}}]
TOOL_BLOCK = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function "
    "signatures within <tools></tools> XML tags:\n<tools>\n"
    + json.dumps(TOOLS[0])
    + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}'
    "\n</tool_call><|im_end|>\n"
)
PAD = "<|vision_start|><|image_pad|><|vision_end|>"

# Real ids of Qwen3-VL's tokens (tokenizer_config.json "added_tokens_decoder" of Qwen/Qwen3-VL-8B-Instruct).
QWEN3_REAL_IDS = {
    "<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645, "<|vision_start|>": 151652,
    "<|vision_end|>": 151653, "<|image_pad|>": 151655, "<|video_pad|>": 151656, "<tool_call>": 151657,
    "</tool_call>": 151658, "<tool_response>": 151665, "</tool_response>": 151666, "<think>": 151667,
    "</think>": 151668,
}  # fmt: skip
ADDED_TOKENS = {"qwen2_5_vl": QWEN_ADDED_TOKENS, "qwen3_vl": QWEN3_ADDED_TOKENS}
# A 512x512 image: smart_resize to a multiple of the factor (28: 504; 32: 512), then patches of 14 / 16 px.
GRID_512 = {"qwen2_5_vl": (36, 14), "qwen3_vl": (32, 16)}  # (patches per side, patch size)
PROCESSOR_CLASS = {"qwen2_5_vl": "Qwen2_5_VLProcessor", "qwen3_vl": "Qwen3VLProcessor"}
# What each family's template renders for a conversation with neither system message nor tools.
NO_SYSTEM_PREFIX = {"qwen2_5_vl": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n", "qwen3_vl": ""}


def _text(processor, messages, **kwargs) -> str:
    return processor.apply_chat_template(messages, tokenize=False, **kwargs)


# ------------------------------------------------------------------------------------------ shared by families


def test_special_tokens_have_contiguous_ids_in_the_family_order(family, family_tokenizer):
    order = QWEN_SPECIAL_TOKENS + ADDED_TOKENS[family]
    ids = [family_tokenizer.convert_tokens_to_ids(t) for t in order]
    # Same order as the real Qwen vocabulary (151643, 151644, ...), shifted to the tiny vocabulary's end.
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert family_tokenizer.eos_token == "<|im_end|>" and family_tokenizer.pad_token == "<|endoftext|>"
    # verl's QwenContinuousTokenBuilder requires "\n" to be exactly one token.
    assert len(family_tokenizer.encode("\n", add_special_tokens=False)) == 1


def test_qwen3_tokens_sit_at_qwen3s_own_offsets(processor_of):
    tokenizer = processor_of("qwen3_vl").tokenizer
    first = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    offsets = {token: tokenizer.convert_tokens_to_ids(token) - first for token in QWEN3_REAL_IDS}
    assert offsets == {token: real - 151643 for token, real in QWEN3_REAL_IDS.items()}


def test_processor_512_image_gives_grid_prod_over_4_image_pads(family, family_processor):
    text = _text(family_processor, [_user("Hi")], add_generation_prompt=True)
    enc = family_processor(text=[text], images=[Image.new("RGB", (512, 512), "red")], return_tensors="pt")
    pad_id = family_processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    side, patch = GRID_512[family]
    assert enc["image_grid_thw"].tolist() == [[1, side, side]]
    assert int((enc["input_ids"] == pad_id).sum()) == side * side // 4 == int(enc["image_grid_thw"].prod()) // 4
    assert tuple(enc["pixel_values"].shape) == (side * side, 3 * 2 * patch * patch)


def test_model_loads_offline_and_generates_on_cpu(family, family_model_dir, family_processor):
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(family_model_dir)
    assert type(model).__name__ == {"qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
                                    "qwen3_vl": "Qwen3VLForConditionalGeneration"}[family]  # fmt: skip
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    text = _text(family_processor, [_user("Hi")], add_generation_prompt=True)
    enc = family_processor(text=[text], images=[Image.new("RGB", (112, 112), "blue")], return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=5, min_new_tokens=5, do_sample=False)
    assert out.shape == (1, enc["input_ids"].shape[1] + 5)
    assert torch.equal(out[0, : enc["input_ids"].shape[1]], enc["input_ids"][0])


def test_qwen3_model_is_the_real_architecture(tiny_model_of):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_model_of("qwen3_vl"))
    assert config.model_type == "qwen3_vl"
    assert config.text_config.rope_parameters["mrope_interleaved"] is True  # interleaved M-RoPE
    assert list(config.vision_config.deepstack_visual_indexes) == [0]  # DeepStack features into the decoder
    assert (config.vision_config.patch_size, config.vision_config.spatial_merge_size) == (16, 2)


def test_verl_loaders_bind_our_processor(family, family_model_dir):
    from verl.utils.tokenizer import hf_processor, hf_tokenizer

    processor = hf_processor(str(family_model_dir), trust_remote_code=True)
    # verl returns None (text-only!) when the processor cannot load; ours must load under the stock class name,
    # which is how verl binds the family's M-RoPE get_rope_index.
    assert processor is not None and type(processor).__name__ == PROCESSOR_CLASS[family]
    assert hasattr(processor, "get_rope_index")
    assert type(processor).__module__ == "verl_pixel.tiny_models.processor"  # importable in Ray workers
    tokenizer = hf_tokenizer(str(family_model_dir), trust_remote_code=True)
    assert tokenizer.pad_token_id == processor.tokenizer.pad_token_id


def test_template_renders_tool_call_and_tool_image_exactly(family_processor):
    # With a system message and tools, Qwen2.5's tool prompt and Qwen3-VL's template render the same bytes.
    expected = (
        "<|im_start|>system\nYou look closely.\n\n" + TOOL_BLOCK
        + f"<|im_start|>user\n{PAD}What color is the square?<|im_end|>\n"
        "<|im_start|>assistant\nLet me zoom in.\n<tool_call>\n"
        '{"name": "crop_image", "arguments": {"bbox_2d": [10, 20, 30, 40]}}\n</tool_call><|im_end|>\n'
        f"<|im_start|>user\n<tool_response>\n{PAD}Cropped.\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\nIt is \\boxed{red}.<|im_end|>\n"
    )  # fmt: skip
    assert _text(family_processor, CONVERSATION, tools=TOOLS) == expected


def test_template_without_tools_or_system_renders_the_familys_default(family, family_processor):
    text = _text(family_processor, [_user("Hi", image=False)], add_generation_prompt=True)
    assert text == NO_SYSTEM_PREFIX[family] + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_consecutive_tool_messages_share_one_user_turn(family_processor):
    two_tools = [*CONVERSATION[:3], {"role": "tool", "content": "a"}, {"role": "tool", "content": "b"}]
    assert _text(family_processor, two_tools).endswith(
        "<|im_start|>user\n<tool_response>\na\n</tool_response>\n<tool_response>\nb\n</tool_response><|im_end|>\n"
    )


@pytest.mark.parametrize("cut", range(1, len(CONVERSATION) + 1))
def test_template_is_prefix_stable(family_processor, cut):
    # Rendering a prefix of the conversation gives a token prefix of rendering the whole (verl's builder relies on it).
    def ids(messages):
        out = family_processor.apply_chat_template(messages, tools=TOOLS, tokenize=True, return_dict=False)
        return out[0] if isinstance(out[0], list) else out

    whole, prefix = ids(CONVERSATION), ids(CONVERSATION[:cut])
    assert whole[: len(prefix)] == prefix


# ----------------------------------------------------------- Qwen3-VL: what its own template renders, exactly


def test_qwen3_tools_without_system_message_open_the_system_turn_with_the_tool_block(processor_of):
    text = _text(processor_of("qwen3_vl"), [_user("Hi", image=False)], tools=TOOLS, add_generation_prompt=True)
    assert text == "<|im_start|>system\n" + TOOL_BLOCK + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_qwen3_vision_ids_count_images_across_user_and_tool_messages(processor_of):
    messages = [
        {"role": "user", "content": [IMAGE, IMAGE, {"type": "text", "text": "Which?"}]},
        {"role": "assistant", "content": "", "tool_calls": [CALL, CALL]},
        {"role": "tool", "content": [IMAGE]},
    ]
    text = _text(processor_of("qwen3_vl"), messages, add_vision_id=True)
    call = '<tool_call>\n{"name": "crop_image", "arguments": {"bbox_2d": [10, 20, 30, 40]}}\n</tool_call>'
    assert text == (
        f"<|im_start|>user\nPicture 1: {PAD}Picture 2: {PAD}Which?<|im_end|>\n"
        f"<|im_start|>assistant\n{call}\n{call}<|im_end|>\n"  # empty content: no newline before the first call
        f"<|im_start|>user\n<tool_response>\nPicture 3: {PAD}\n</tool_response><|im_end|>\n"
    )


def test_qwen3_content_lists_render_their_text(processor_of):
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]},
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What happens?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat jumps."}]},
    ]
    assert _text(processor_of("qwen3_vl"), messages) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>What happens?<|im_end|>\n"
        "<|im_start|>assistant\nA cat jumps.<|im_end|>\n"
    )


def test_tiny_model_command_builds_the_chosen_family(tmp_path, capsys):
    from verl_pixel.cli import main

    assert main(["tiny-model", "--family", "qwen3_vl", str(tmp_path / "q3")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "q3")
    assert json.loads((tmp_path / "q3" / "config.json").read_text())["model_type"] == "qwen3_vl"
    assert "Qwen3VLProcessor" in (tmp_path / "q3" / "processing_verl_pixel_tiny.py").read_text()


def test_video_processor_builds_without_torchvision_and_lays_out_qwen_patches(tiny_model_dir, tiny_processor):
    from transformers import AutoProcessor

    from verl_pixel.tiny_models.video_processor import Qwen2VLVideoProcessorPil

    # It survives save/load (AutoVideoProcessor would need torchvision) with the kit's wide bounds.
    reloaded = AutoProcessor.from_pretrained(tiny_model_dir, trust_remote_code=True).video_processor
    assert isinstance(reloaded, Qwen2VLVideoProcessorPil) and (reloaded.min_pixels, reloaded.max_pixels) == (
        4 * 28 * 28,
        16384 * 28 * 28,
    )
    # 3 frames of 56x84 (within the bounds: not resized): frame t has value 10 t in channel 0, 255 elsewhere.
    # Padded to 4 frames with the last (temporal patch 2): grid (2, 4, 6) of 14-px patches; 2 x 3 merged tokens a
    # temporal patch, 12 tokens in all.
    video = torch.full((3, 3, 56, 84), 255.0)
    video[:, 0] = torch.tensor([0.0, 10.0, 20.0]).view(3, 1, 1)
    text = tiny_processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "?"}]}], tokenize=False
    )
    meta = {"fps": 10.0, "frames_indices": [0, 5, 10], "total_num_frames": 12}
    enc = tiny_processor(
        text=[text], videos=[video], video_metadata=[meta], do_sample_frames=False, return_tensors="pt"
    )
    assert enc["video_grid_thw"].tolist() == [[2, 4, 6]]
    pad_id = tiny_processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert int((enc["input_ids"] == pad_id).sum()) == 12
    # Sampled fps = 3 / 12 * 10 = 2.5, so a temporal patch spans 2 / 2.5 = 0.8 s.
    assert enc["second_per_grid_ts"].tolist() == pytest.approx([0.8])
    # Patch rows are (t, h, w) in merge order; a row is channel-major, then the 2 frames, then 14x14 pixels.
    # Row 0 = temporal patch 0 (frames 0, 1); row 24 = temporal patch 1 (frame 2 and its copy): CLIP-normalised.
    patches = enc["pixel_values_videos"]
    assert tuple(patches.shape) == (2 * 4 * 6, 3 * 2 * 14 * 14)
    mean, std = 0.48145466 * 255, 0.26862954 * 255
    channel0 = patches[:, : 2 * 196].view(-1, 2, 196)
    assert channel0[0, 0].unique().tolist() == pytest.approx([(0 - mean) / std])
    assert channel0[0, 1].unique().tolist() == pytest.approx([(10 - mean) / std])
    assert channel0[24, 0].unique().tolist() == channel0[24, 1].unique().tolist() == pytest.approx([(20 - mean) / std])
