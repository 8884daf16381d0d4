"""The one client of OpenAI-compatible ``/chat/completions`` endpoints (vLLM / SGLang ``serve``, hosted APIs).

Both the endpoint evaluation (:mod:`verl_pixel.eval.runner`) and the synthesis writer
(:mod:`verl_pixel.data.endpoint_writer`) send their requests through :class:`ChatEndpoint`, so they share one
error type (:class:`EndpointError`), one retry policy, one deadline rule and one image encoder:

* **deadline**: ``timeout_s`` bounds each request from sending to the last byte of the reply. A server that
  trickles its reply byte by byte does not reset it (an inactivity timeout would wait forever);
* **retried**, with exponential backoff and jitter, or the server's ``Retry-After`` (seconds or an HTTP date,
  capped at ``backoff_max_s``): transport errors, a missed deadline, and the statuses that mean "try again"
  (408, 409, 429, 5xx); with ``usable``, also a reply the caller cannot use (e.g. empty text);
* **not retried**: any other error status (repeating a bad request cannot fix it), and a 200 reply that is not a
  well-formed completion (invalid JSON; ``choices[0].message`` missing or not an object; ``content`` that is
  not text; ``tool_calls`` entries that are not objects). Such a reply is a protocol fault of the server, and
  with hosted APIs every retry is a paid completion; :class:`EndpointError` names what was wrong.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email.utils
import io
import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from PIL import Image

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
API_KEY_ENV = "OPENAI_API_KEY"
IMAGE_FORMATS = ("png", "jpeg")

ImageEncoder = Callable[[Image.Image], str]


class EndpointError(RuntimeError):
    """The endpoint failed for good: a non-retryable status, a malformed reply, or retries exhausted."""


class _RetryableError(Exception):
    """One attempt failed in a way another attempt may fix (``retry_after``: the server's ``Retry-After``)."""

    def __init__(self, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class EndpointConfig:
    """Where and how to query the model.

    Attributes:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended).
        model: the served model name.
        api_key: bearer token; default: ``$OPENAI_API_KEY`` if set, else none (local servers).
        temperature: sampling temperature (0: greedy, the usual evaluation setting).
        max_tokens: generation cap per request.
        timeout_s: deadline of one request, from sending it to the reply's last byte (module docstring).
        max_retries: retries after the first try.
        backoff_s: first backoff; doubled per retry, with jitter, capped at ``backoff_max_s``.
        backoff_max_s: longest wait between tries (also caps ``Retry-After``).
        extra_body: further request fields (``top_p``, ``seed``, vLLM's ``top_k`` ...).
    """

    base_url: str
    model: str
    api_key: str | None = None
    temperature: float = 0.0
    max_tokens: int = 2048
    timeout_s: float = 600.0
    max_retries: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    extra_body: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if self.max_retries < 0 or self.max_tokens < 1 or self.backoff_s < 0:
            raise ValueError("max_retries and backoff_s must be >= 0 and max_tokens >= 1")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        return self.base_url.rstrip("/") + "/chat/completions"


@dataclasses.dataclass(frozen=True)
class ChatReply:
    """The first choice of a completion.

    Attributes:
        content: the assistant text ("" when the server returned none).
        tool_calls: OpenAI ``tool_calls`` entries (objects), if the server parsed any.
        finish_reason: ``stop``, ``length``, ``tool_calls``, ...
        prompt_tokens: from ``usage`` (``None`` if the server did not report it).
        completion_tokens: from ``usage`` (``None`` if the server did not report it).
    """

    content: str
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def parse_reply(payload: Any) -> ChatReply:
    """Read a chat-completions response body, checking every field the callers use.

    Raises:
        EndpointError: naming the malformed field (``choices[0].message is null``, ...).
    """
    choices = payload.get("choices") if isinstance(payload, Mapping) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise EndpointError(f"malformed chat-completions response: no choices[0] object in {_excerpt(payload)}")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise EndpointError(f"malformed chat-completions response: choices[0].message is {_kind(message)}")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise EndpointError(f"malformed chat-completions response: choices[0].message.content is {_kind(content)}")
    tool_calls = message.get("tool_calls") or []
    if not isinstance(tool_calls, list):
        raise EndpointError(f"malformed chat-completions response: tool_calls is {_kind(tool_calls)}, not a list")
    for index, call in enumerate(tool_calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(call, Mapping) or not (function is None or isinstance(function, Mapping)):
            where = f"tool_calls[{index}]" + ("" if not isinstance(call, Mapping) else ".function")
            shown = call if not isinstance(call, Mapping) else function
            raise EndpointError(f"malformed chat-completions response: {where} is {_kind(shown)}, not an object")
    usage = payload.get("usage")
    usage = usage if isinstance(usage, Mapping) else {}
    return ChatReply(
        content=content or "",
        tool_calls=tuple(tool_calls),
        finish_reason=str(choice.get("finish_reason") or "stop"),
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _kind(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__} ({_excerpt(value, 60)})"


def _excerpt(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def backoff_delay(attempt: int, config: EndpointConfig, retry_after: str | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): the server's ``Retry-After`` or jittered doubling."""
    if retry_after:
        seconds = _retry_after_seconds(retry_after)
        if seconds is not None:
            return min(max(seconds, 0.0), config.backoff_max_s)
    base = min(config.backoff_s * 2**attempt, config.backoff_max_s)
    return base * (0.5 + random.random() / 2)


def _retry_after_seconds(value: str) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110 §10.2.3); ``None`` if unreadable."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def data_url_encoder(image_format: str = "png") -> ImageEncoder:
    """An encoder of PIL images to ``data:`` URLs (PNG is lossless; JPEG is smaller)."""
    fmt = image_format.lower()
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be png or jpeg, got {image_format!r}")

    def encode(image: Image.Image) -> str:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format=fmt.upper(), **({"quality": 95} if fmt == "jpeg" else {}))
        return f"data:image/{fmt};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"

    return encode


class ChatEndpoint:
    """Sends chat requests; one instance shared by all concurrent requests of a run (one connection pool)."""

    def __init__(
        self, config: EndpointConfig, max_connections: int = 64, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """Open the connection pool (``transport`` replaces the network, e.g. ``httpx.MockTransport`` in tests)."""
        self.config = config
        api_key = config.api_key or os.environ.get(API_KEY_ENV)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        # httpx's own timeout is per read; the deadline of the whole request is enforced in _attempt.
        self._client = httpx.AsyncClient(headers=headers, timeout=config.timeout_s, limits=limits, transport=transport)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> ChatEndpoint:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def request_body(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping] | None) -> dict:
        """The JSON body of one request."""
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": list(messages),
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            **dict(self.config.extra_body),
        }
        if tools:
            body["tools"] = list(tools)
        return body

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping] | None = None,
        usable: Callable[[ChatReply], bool] | None = None,
    ) -> ChatReply:
        """One completion, retried as described in the module docstring.

        Args:
            messages: the conversation.
            tools: OpenAI tool schemas to send as ``tools``.
            usable: a reply it rejects is retried like a transient failure (e.g. empty text for a writer).

        Raises:
            EndpointError: a non-retryable status, a malformed reply, or the retries spent (with the last error).
        """
        body = self.request_body(messages, tools)
        last_error = ""
        for attempt in range(self.config.max_retries + 1):
            try:
                reply = await self._attempt(body)
            except _RetryableError as err:
                last_error, retry_after = str(err), err.retry_after
            else:
                if usable is None or usable(reply):
                    return reply
                last_error, retry_after = f"unusable reply: {_excerpt(reply.content, 200)}", None
            if attempt < self.config.max_retries:
                delay = backoff_delay(attempt, self.config, retry_after)
                logger.debug("retrying %s in %.2fs after %s", self.config.url, delay, last_error)
                await asyncio.sleep(delay)
        raise EndpointError(f"{self.config.url}: gave up after {self.config.max_retries + 1} tries; last: {last_error}")

    async def _attempt(self, body: dict[str, Any]) -> ChatReply:
        try:
            response = await asyncio.wait_for(self._client.post(self.config.url, json=body), self.config.timeout_s)
        except asyncio.TimeoutError as err:
            raise _RetryableError(f"no complete reply within the {self.config.timeout_s:g} s deadline") from err
        except httpx.TransportError as err:  # connection refused / reset, httpx's own timeouts
            raise _RetryableError(f"{type(err).__name__}: {err}") from err
        if response.status_code == 200:
            try:
                payload = response.json()
            except ValueError as err:
                raise EndpointError(f"malformed chat-completions response: not JSON: {err}") from err
            return parse_reply(payload)
        error = f"HTTP {response.status_code}: {response.text[:300]}"
        if response.status_code not in RETRY_STATUSES:
            raise EndpointError(f"{self.config.url}: {error}")
        raise _RetryableError(error, response.headers.get("retry-after"))


def complete_all(
    config: EndpointConfig,
    conversations: Sequence[Sequence[Mapping[str, Any]]],
    concurrency: int,
    usable: Callable[[ChatReply], bool] | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[ChatReply]:
    """Complete every conversation, ``concurrency`` at a time, from synchronous code; replies in input order.

    Raises:
        EndpointError: the first request that failed for good (the others are cancelled).
    """

    async def run() -> list[ChatReply]:
        gate = asyncio.Semaphore(concurrency)
        async with ChatEndpoint(config, max_connections=concurrency) as endpoint:

            async def one(messages: Sequence[Mapping[str, Any]]) -> ChatReply:
                async with gate:
                    reply = await endpoint.complete(messages, usable=usable)
                if on_done is not None:
                    on_done()
                return reply

            tasks = [asyncio.ensure_future(one(messages)) for messages in conversations]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:  # the first failure stops the others before the pool closes
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

    return asyncio.run(run())
