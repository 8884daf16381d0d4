"""An async client for one OpenAI-compatible ``/chat/completions`` endpoint (vLLM / SGLang ``serve``, hosted APIs).

Retries with exponential backoff (and the server's ``Retry-After`` when it sends one) on transport errors,
timeouts and the statuses that mean "try again" (408, 409, 429, 5xx); any other error status fails at once with the
server's message, because repeating a bad request cannot fix it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
API_KEY_ENV = "OPENAI_API_KEY"


class EndpointError(RuntimeError):
    """The endpoint failed for good (a non-retryable status, or retries exhausted)."""


@dataclasses.dataclass(frozen=True)
class EndpointConfig:
    """Where and how to query the model.

    Attributes:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended).
        model: the served model name.
        api_key: bearer token; default: ``$OPENAI_API_KEY`` if set, else none (local servers).
        temperature: sampling temperature (0: greedy, the usual evaluation setting).
        max_tokens: generation cap per assistant turn.
        timeout_s: per-request timeout.
        max_retries: retries after the first try.
        backoff_s: first backoff; doubled per retry, with jitter, capped at ``backoff_max_s``.
        backoff_max_s: longest wait between tries.
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
        if self.max_retries < 0 or self.max_tokens < 1:
            raise ValueError("max_retries must be >= 0 and max_tokens >= 1")

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        return self.base_url.rstrip("/") + "/chat/completions"


@dataclasses.dataclass(frozen=True)
class ChatReply:
    """The first choice of a completion.

    Attributes:
        content: the assistant text ("" when the server returned none).
        tool_calls: OpenAI ``tool_calls`` entries, if the server parsed any.
        finish_reason: ``stop``, ``length``, ``tool_calls``, ...
        prompt_tokens: from ``usage`` (``None`` if the server did not report it).
        completion_tokens: from ``usage`` (``None`` if the server did not report it).
    """

    content: str
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def parse_reply(payload: Mapping[str, Any]) -> ChatReply:
    """Read a chat-completions response body.

    Raises:
        EndpointError: if the body has no ``choices[0].message``.
    """
    try:
        choice = payload["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as err:
        raise EndpointError(f"malformed chat-completions response: {str(payload)[:300]}") from err
    usage = payload.get("usage") or {}
    return ChatReply(
        content=message.get("content") or "",
        tool_calls=tuple(message.get("tool_calls") or ()),
        finish_reason=str(choice.get("finish_reason") or "stop"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
    )


def backoff_delay(attempt: int, config: EndpointConfig, retry_after: str | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): the server's ``Retry-After`` or jittered doubling."""
    if retry_after:
        try:
            return min(float(retry_after), config.backoff_max_s)
        except ValueError:
            pass  # an HTTP date: fall back to our own schedule
    base = min(config.backoff_s * 2**attempt, config.backoff_max_s)
    return base * (0.5 + random.random() / 2)


class ChatEndpoint:
    """Sends chat requests; one instance shared by all concurrent episodes (one connection pool)."""

    def __init__(
        self, config: EndpointConfig, max_connections: int = 64, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """Open the connection pool (``transport`` replaces the network, e.g. ``httpx.MockTransport`` in tests)."""
        self.config = config
        api_key = config.api_key or os.environ.get(API_KEY_ENV)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.AsyncClient(headers=headers, timeout=config.timeout_s, limits=limits, transport=transport)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

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
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping] | None = None
    ) -> ChatReply:
        """One completion, retried as described in the module docstring.

        Raises:
            EndpointError: on a non-retryable status or when the retries are spent (with the last error).
        """
        body = self.request_body(messages, tools)
        last_error = ""
        for attempt in range(self.config.max_retries + 1):
            retry_after = None
            try:
                response = await self._client.post(self.config.url, json=body)
            except httpx.TransportError as err:  # connection refused / reset, timeouts
                last_error = f"{type(err).__name__}: {err}"
            else:
                if response.status_code == 200:
                    return parse_reply(response.json())
                last_error = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRY_STATUSES:
                    raise EndpointError(f"{self.config.url}: {last_error}")
                retry_after = response.headers.get("retry-after")
            if attempt < self.config.max_retries:
                delay = backoff_delay(attempt, self.config, retry_after)
                logger.debug("retrying %s in %.2fs after %s", self.config.url, delay, last_error)
                await asyncio.sleep(delay)
        raise EndpointError(f"{self.config.url}: gave up after {self.config.max_retries + 1} tries; last: {last_error}")
