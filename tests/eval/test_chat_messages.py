"""Requests of the endpoint runner: the same text the training chat template renders, and the HTTP client's rules."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from verl_pixel.chat_endpoint import data_url_encoder
from verl_pixel.eval.chat_messages import (
    hermes_system_prompt,
    structured_calls,
    text_tool_outputs,
    with_tools_in_system,
)
from verl_pixel.ops import (
    FailureReason,
    ImageRegistry,
    MalformedToolCall,
    OutputStyle,
    ToolCall,
    VisualOpsConfig,
    run_operation,
    tool_schemas,
)


def test_system_prompt_matches_the_package_chat_template(family, family_tokenizer):
    from verl_pixel.model_family import family_spec

    spec = family_spec(family)
    schemas = tool_schemas(spec.ops_config())
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    rendered = family_tokenizer.apply_chat_template(messages, tools=schemas, tokenize=False)
    assert rendered.startswith("<|im_start|>system\n" + hermes_system_prompt("Be brief.", schemas) + "<|im_end|>\n")
    # Without a system message: Qwen2.5-VL's template renders its persona, Qwen3-VL's the tool block alone.
    default = with_tools_in_system([{"role": "user", "content": "hi"}], schemas, spec.default_system_prompt)
    persona = spec.default_system_prompt or None
    assert default[0]["content"] == hermes_system_prompt(persona, schemas)
    rendered = family_tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tools=schemas, tokenize=False)
    assert rendered.startswith("<|im_start|>system\n" + default[0]["content"] + "<|im_end|>")


def _two_results():
    config = VisualOpsConfig()
    image = Image.new("RGB", (560, 420), "white")
    registry = ImageRegistry.from_inputs(config, [image], [image])
    ok = run_operation(registry, "crop_image", {"bbox_2d": [0.1, 0.1, 0.5, 0.5]})
    bad = run_operation(registry, "crop_image", {"bbox_2d": [1, 2]})
    return ok, bad


def test_qwen_tool_turn_renders_like_tool_messages_in_the_template(tiny_tokenizer):
    ok, bad = _two_results()
    (turn,) = text_tool_outputs([ok, bad], OutputStyle.QWEN, lambda image: "data:image/png;base64,AAAA")
    prefix = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "calls"}]
    as_tools = [
        *prefix,
        {
            "role": "tool",
            "content": [{"type": "image"}, {"type": "text", "text": "Image 2: crop of image 1 (336x252)."}],
        },
        {"role": "tool", "content": [{"type": "text", "text": f"Error: {bad.message}"}]},
    ]
    expected = tiny_tokenizer.apply_chat_template(as_tools, tokenize=False)
    assert tiny_tokenizer.apply_chat_template([*prefix, turn], tokenize=False) == expected
    pixel = text_tool_outputs([ok], OutputStyle.PIXEL_REASONER, lambda image: "u")
    assert pixel[0]["content"][0]["text"] == "\nHere is the cropped image (Image Size: 336x252):"


def test_structured_calls_and_data_urls():
    calls = structured_calls(
        [
            {"id": "a", "function": {"name": "zoom_in", "arguments": '{"bbox_2d": [0, 0, 1, 1]}'}},
            {"id": "b", "function": {"name": "crop_image", "arguments": "{bbox_2d"}},
            {"id": "c", "function": {"arguments": "{}"}},
        ]
    )
    assert calls[0] == ToolCall("zoom_in", {"bbox_2d": [0, 0, 1, 1]})
    assert isinstance(calls[1], MalformedToolCall) and calls[1].reason is FailureReason.BAD_TYPE
    assert isinstance(calls[2], MalformedToolCall) and "name" in calls[2].message
    url = data_url_encoder("jpeg")(Image.new("RGB", (8, 8), "red"))
    assert url.startswith("data:image/jpeg;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.size == (8, 8) and decoded.format == "JPEG"
    with pytest.raises(ValueError, match="png or jpeg"):
        data_url_encoder("gif")
