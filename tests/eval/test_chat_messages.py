"""Requests of the endpoint runner: the same text the training chat template renders, and the HTTP client's rules."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import httpx
import pytest
from PIL import Image

from verl_pixel.eval.chat_messages import (
    data_url_encoder,
    hermes_system_prompt,
    structured_calls,
    text_tool_outputs,
    with_tools_in_system,
)
from verl_pixel.eval.endpoint import ChatEndpoint, EndpointConfig, EndpointError, backoff_delay, parse_reply
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


def test_system_prompt_matches_the_package_chat_template(tiny_tokenizer):
    schemas = tool_schemas(VisualOpsConfig())
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    rendered = tiny_tokenizer.apply_chat_template(messages, tools=schemas, tokenize=False)
    assert rendered.startswith("<|im_start|>system\n" + hermes_system_prompt("Be brief.", schemas) + "<|im_end|>\n")
    default = with_tools_in_system([{"role": "user", "content": "hi"}], schemas, "You are a helpful assistant.")
    assert default[0]["content"] == hermes_system_prompt("You are a helpful assistant.", schemas)
    rendered = tiny_tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tools=schemas, tokenize=False)
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


def test_parse_reply_and_backoff():
    reply = parse_reply(
        {"choices": [{"message": {"content": None, "tool_calls": [{"id": "x"}]}, "finish_reason": "tool_calls"}]}
    )
    assert (reply.content, reply.finish_reason, reply.prompt_tokens, len(reply.tool_calls)) == (
        "",
        "tool_calls",
        None,
        1,
    )
    with pytest.raises(EndpointError, match="malformed chat-completions response"):
        parse_reply({"choices": []})
    config = EndpointConfig(base_url="http://127.0.0.1:1/v1", model="m", backoff_s=1.0, backoff_max_s=5.0)
    assert backoff_delay(0, config, "3") == 3.0 and backoff_delay(0, config, "100") == 5.0
    assert 2.0 <= backoff_delay(2, config) <= 4.0 and 2.5 <= backoff_delay(9, config) <= 5.0
    with pytest.raises(ValueError, match="http"):
        EndpointConfig(base_url="127.0.0.1:8000", model="m")


def test_client_retries_only_what_can_succeed_later():
    statuses = iter([429, 503, 200, 400])
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        status = next(statuses)
        body = {"choices": [{"message": {"content": "ok"}}]} if status == 200 else {"error": "no"}
        return httpx.Response(status, json=body, headers={"retry-after": "0"} if status == 429 else {})

    config = EndpointConfig(
        base_url="http://127.0.0.1:9/v1", model="m", api_key="k", backoff_s=0.001, extra_body=(("seed", 3),)
    )

    async def go():
        endpoint = ChatEndpoint(config, transport=httpx.MockTransport(handler))
        try:
            first = await endpoint.complete([{"role": "user", "content": "hi"}])
            with pytest.raises(EndpointError, match="HTTP 400"):
                await endpoint.complete([{"role": "user", "content": "hi"}])
            return first
        finally:
            await endpoint.aclose()

    assert asyncio.run(go()).content == "ok"
    assert len(seen) == 4 and seen[0]["seed"] == 3 and seen[0]["max_tokens"] == 2048
