"""The one OpenAI-compatible client: reply checks, retry policy (statuses, Retry-After), request bodies.

Its deadline and its handling of malformed replies against a real misbehaving server on 127.0.0.1 are tested in
``tests/eval/test_bad_replies.py``; the synthesis writer's use of it in ``tests/data/test_endpoint_writer.py``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time

import httpx
import pytest

from verl_pixel.chat_endpoint import ChatEndpoint, EndpointConfig, EndpointError, backoff_delay, parse_reply


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


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "no choices[0] object"),
        ({"choices": [None]}, "no choices[0] object"),
        ({"choices": [{"message": None}]}, "choices[0].message is null"),
        ({"choices": [{"message": "hi"}]}, "choices[0].message is a str"),
        ({"choices": [{"message": {"content": [{"type": "text", "text": "x"}]}}]}, "content is a list"),
        ({"choices": [{"message": {"content": 3}}]}, "content is a int"),
        ({"choices": [{"message": {"content": "", "tool_calls": ["crop_image()"]}}]}, "tool_calls[0] is a str"),
        ({"choices": [{"message": {"content": "", "tool_calls": {"id": 1}}}]}, "tool_calls is a dict"),
        ({"choices": [{"message": {"tool_calls": [{"function": "crop"}]}}]}, "tool_calls[0].function is a str"),
    ],
)
def test_malformed_replies_name_the_field(payload, message):
    with pytest.raises(EndpointError, match=r"^malformed chat-completions response: .*" + message.replace("[", r"\[")):
        parse_reply(payload)


def test_reply_usage_of_the_wrong_type_is_ignored():
    reply = parse_reply({"choices": [{"message": {"content": "x"}}], "usage": ["nonsense"]})
    assert (reply.content, reply.prompt_tokens, reply.completion_tokens) == ("x", None, None)
    reply = parse_reply({"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "3"}})
    assert reply.prompt_tokens is None


def test_retry_after_as_an_http_date():
    config = EndpointConfig(base_url="http://127.0.0.1:1/v1", model="m", backoff_max_s=60.0)
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= backoff_delay(0, config, in_ten) <= 10.0
    assert backoff_delay(0, config, email.utils.formatdate(time.time() - 100, usegmt=True)) == 0.0


def test_unusable_replies_are_retried_and_malformed_ones_are_not():
    replies = iter(["", "  ", "text"])
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) > 3:
            return httpx.Response(200, json={"choices": [{"message": None}]})
        return httpx.Response(200, json={"choices": [{"message": {"content": next(replies)}}]})

    config = EndpointConfig(base_url="http://127.0.0.1:9/v1", model="m", backoff_s=0.001, max_retries=3)

    async def go():
        async with ChatEndpoint(config, transport=httpx.MockTransport(handler)) as endpoint:
            reply = await endpoint.complete(
                [{"role": "user", "content": "hi"}], usable=lambda r: bool(r.content.strip())
            )
            with pytest.raises(EndpointError, match="message is null"):
                await endpoint.complete([{"role": "user", "content": "hi"}])
            return reply

    assert asyncio.run(go()).content == "text"
    assert len(seen) == 4  # three tries for the usable text, one for the malformed reply
