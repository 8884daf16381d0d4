"""An analysis writer backed by any OpenAI-compatible chat endpoint (``POST {base_url}/chat/completions``).

Standard library only (urllib): requests run concurrently in threads, failed ones are retried with exponential
backoff (connection errors, timeouts, HTTP 408/409/429/5xx, empty answers), and a tqdm bar shows progress. The
answer is sanitized like every writer's (:func:`~verl_pixel.data.writers.sanitize_text`).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm import tqdm

from verl_pixel.data.writers import TextKind, TextRequest, sanitize_text

logger = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})

_SYSTEM_PROMPT = (
    "You write one short step (1-3 sentences) of a model's visual reasoning trace. Write in the first person, as "
    "the model looking at the images. Do not use tool-call syntax, do not write \\boxed{}, do not repeat the "
    "question."
)
_INSTRUCTIONS: dict[TextKind, str] = {
    TextKind.IMAGE_OVERVIEW: "Describe the whole image briefly and explain that {target} is too small to read at "
    "this scale. Do not give the answer.",
    TextKind.WRONG_CROP: "The last crop missed {target}. Say what the crop shows instead and that another region "
    "is needed. Do not give the answer.",
    TextKind.OVERSIZED_CROP: "The last crop contains {target} but is too large to read it. Say so. Do not give the "
    "answer.",
    TextKind.CROP_ANSWER: "The last crop shows {target} clearly. Describe what it shows, leading to the answer "
    "'{answer}'.",
    TextKind.VIDEO_OVERVIEW: "Describe the video briefly and explain that {target} is only visible in a few frames. "
    "Do not give the answer.",
    TextKind.WRONG_FRAMES: "The selected frames do not show {target}. Say so and that other frames are needed. Do "
    "not give the answer.",
    TextKind.FRAMES_ANSWER: "The selected frames show {target}. Describe it, leading to the answer '{answer}'.",
    TextKind.TEXT_ONLY_ANSWER: "Answer from the whole input without zooming: describe {target}, leading to the "
    "answer '{answer}'.",
}


class EndpointError(RuntimeError):
    """The endpoint did not produce a usable answer within the retries."""


@dataclasses.dataclass(frozen=True)
class EndpointWriterConfig:
    """Where and how to call the chat endpoint.

    Attributes:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended).
        model: the model name sent in each request.
        api_key_env: environment variable holding the bearer token (unset: no Authorization header).
        max_concurrency: requests in flight at once.
        max_retries: retries per request after the first attempt.
        backoff_s: first retry delay; doubled each retry.
        timeout_s: per-request timeout.
        temperature: sampling temperature.
        max_tokens: answer length limit.
        seed: sent as the request's ``seed`` (servers that honour it make runs repeatable).
        send_images: attach the step's images as PNG data URLs (for VLM endpoints).
        show_progress: draw a tqdm progress bar.
    """

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 8
    max_retries: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 60.0
    temperature: float = 0.7
    max_tokens: int = 256
    seed: int = 0
    send_images: bool = False
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.max_concurrency < 1 or self.max_retries < 0 or self.backoff_s < 0:
            raise ValueError("max_concurrency must be >= 1, max_retries and backoff_s >= 0")


class EndpointWriter:
    """Writes each step's text with one chat-completion request."""

    def __init__(self, config: EndpointWriterConfig) -> None:
        self.config = config
        self.wants_images = config.send_images
        self._url = config.base_url.rstrip("/") + "/chat/completions"

    def write_many(self, requests: Sequence[TextRequest]) -> list[str]:
        """Texts of all requests, in order.

        Raises:
            EndpointError: if a request still fails after its retries.
        """
        bar = tqdm(total=len(requests), desc="writing", unit="text", disable=not self.config.show_progress)
        with bar, ThreadPoolExecutor(max_workers=self.config.max_concurrency) as pool:

            def run(request: TextRequest) -> str:
                text = self.write(request)
                bar.update(1)
                return text

            return list(pool.map(run, requests))

    def write(self, request: TextRequest) -> str:
        """The text of one request (with retries).

        Raises:
            EndpointError: if every attempt failed.
        """
        payload = json.dumps(self.payload(request)).encode()
        delay = self.config.backoff_s
        last_error = "no attempt"
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            try:
                text = sanitize_text(self._post(payload))
            except _RetryableError as err:
                last_error = str(err)
                logger.info("request %s attempt %d failed: %s", request.request_id, attempt + 1, err)
                continue
            if text:
                return text
            last_error = "empty answer"
        raise EndpointError(f"request {request.request_id}: {last_error} after {self.config.max_retries + 1} attempts")

    def payload(self, request: TextRequest) -> dict[str, Any]:
        """The chat-completion request body for ``request``."""
        instruction = _INSTRUCTIONS[request.kind].format(target=request.target, answer=request.answer)
        text = f"Question: {request.question}\n\nTask: {instruction}"
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if self.config.send_images:
            content += [{"type": "image_url", "image_url": {"url": _data_url(image)}} for image in request.images]
        return {
            "model": self.config.model,
            "messages": [{"role": "system", "content": _SYSTEM_PROMPT}, {"role": "user", "content": content}],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "seed": self.config.seed,
        }

    def _post(self, payload: bytes) -> str:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self._url, data=payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as err:
            if err.code in _RETRY_STATUS:
                raise _RetryableError(f"HTTP {err.code}") from err
            raise EndpointError(f"HTTP {err.code} from {self._url}: {err.read()[:200]!r}") from err
        except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as err:
            raise _RetryableError(f"{type(err).__name__}: {err}") from err
        try:
            return str(body["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as err:
            raise _RetryableError(f"unexpected response shape: {str(body)[:200]}") from err


class _RetryableError(Exception):
    """A failure worth another attempt."""


def _data_url(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
