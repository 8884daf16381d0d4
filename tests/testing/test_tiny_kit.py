"""The offline tiny Qwen2.5-VL kit: processor token counts, generation, loaders, chat template exactness."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from verl_pixel.constants import QWEN_ADDED_TOKENS, QWEN_SPECIAL_TOKENS

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


def test_special_tokens_have_contiguous_ids_and_newline_is_one_token(tiny_tokenizer):
    ids = [tiny_tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS + QWEN_ADDED_TOKENS]
    # Same order as the real Qwen vocabulary (151643, 151644, ...), shifted to the tiny vocabulary's end.
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert tiny_tokenizer.eos_token == "<|im_end|>" and tiny_tokenizer.pad_token == "<|endoftext|>"
    # verl's QwenContinuousTokenBuilder requires "\n" to be exactly one token.
    assert len(tiny_tokenizer.encode("\n", add_special_tokens=False)) == 1


def test_processor_512_image_gives_grid_prod_over_4_image_pads(tiny_processor):
    text = tiny_processor.apply_chat_template([_user("Hi")], add_generation_prompt=True, tokenize=False)
    enc = tiny_processor(text=[text], images=[Image.new("RGB", (512, 512), "red")], return_tensors="pt")
    pad_id = tiny_processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # 512 px → smart_resize to 504 (multiple of 28) → 36×36 patches of 14 px → 36·36/4 merged tokens.
    assert enc["image_grid_thw"].tolist() == [[1, 36, 36]]
    assert int((enc["input_ids"] == pad_id).sum()) == 324 == int(enc["image_grid_thw"].prod()) // 4
    assert tuple(enc["pixel_values"].shape) == (36 * 36, 3 * 2 * 14 * 14)


def test_model_loads_offline_and_generates_on_cpu(tiny_model_dir, tiny_processor):
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    text = tiny_processor.apply_chat_template([_user("Hi")], add_generation_prompt=True, tokenize=False)
    enc = tiny_processor(text=[text], images=[Image.new("RGB", (112, 112), "blue")], return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=5, min_new_tokens=5, do_sample=False)
    assert out.shape == (1, enc["input_ids"].shape[1] + 5)
    assert torch.equal(out[0, : enc["input_ids"].shape[1]], enc["input_ids"][0])


def test_verl_loaders_bind_our_processor(tiny_model_dir):
    from verl.utils.tokenizer import hf_processor, hf_tokenizer

    processor = hf_processor(str(tiny_model_dir), trust_remote_code=True)
    # verl returns None (text-only!) when the processor cannot load; ours must load and be Qwen2.5-VL-named.
    assert processor is not None and type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert type(processor).__module__ == "verl_pixel.tiny_models.processor"  # importable in Ray workers
    assert hf_tokenizer(str(tiny_model_dir), trust_remote_code=True).pad_token_id == processor.tokenizer.pad_token_id


def test_template_renders_tool_call_and_tool_image_exactly(tiny_processor):
    text = tiny_processor.apply_chat_template(CONVERSATION, tools=TOOLS, tokenize=False)
    expected = (
        "<|im_start|>system\nYou look closely.\n\n# Tools\n\nYou may call one or more functions to assist with the "
        "user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        + json.dumps(TOOLS[0])
        + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}'
        "\n</tool_call><|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What color is the square?<|im_end|>\n"
        "<|im_start|>assistant\nLet me zoom in.\n<tool_call>\n"
        '{"name": "crop_image", "arguments": {"bbox_2d": [10, 20, 30, 40]}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n<|vision_start|><|image_pad|><|vision_end|>Cropped.\n"
        "</tool_response><|im_end|>\n"
        "<|im_start|>assistant\nIt is \\boxed{red}.<|im_end|>\n"
    )
    assert text == expected


def test_template_without_tools_uses_default_system_prompt(tiny_processor):
    text = tiny_processor.apply_chat_template([_user("Hi", image=False)], add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_consecutive_tool_messages_share_one_user_turn(tiny_processor):
    two_tools = [*CONVERSATION[:3], {"role": "tool", "content": "a"}, {"role": "tool", "content": "b"}]
    text = tiny_processor.apply_chat_template(two_tools, tokenize=False)
    assert text.endswith(
        "<|im_start|>user\n<tool_response>\na\n</tool_response>\n<tool_response>\nb\n</tool_response><|im_end|>\n"
    )


@pytest.mark.parametrize("cut", range(1, len(CONVERSATION) + 1))
def test_template_is_prefix_stable(tiny_processor, cut):
    # Rendering a prefix of the conversation gives a token prefix of rendering the whole (verl's builder relies on it).
    def ids(messages):
        return tiny_processor.apply_chat_template(messages, tools=TOOLS, tokenize=True, return_dict=False)

    whole, prefix = ids(CONVERSATION), ids(CONVERSATION[:cut])
    whole = whole[0] if isinstance(whole[0], list) else whole
    prefix = prefix[0] if isinstance(prefix[0], list) else prefix
    assert whole[: len(prefix)] == prefix
