"""An analysis writer backed by any OpenAI-compatible chat endpoint (``POST {base_url}/chat/completions``).

Requests go through the project's one client (:mod:`verl_pixel.chat_endpoint`: its retry policy, per-request
deadline, ``Retry-After`` handling and :class:`~verl_pixel.chat_endpoint.EndpointError`), ``max_concurrency`` at a
time, with a tqdm bar. An answer that is empty after sanitizing (:func:`~verl_pixel.data.writers.sanitize_text`)
is retried like a transient failure. A request that still fails stops the synthesis with ``EndpointError``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from verl_pixel.chat_endpoint import ChatReply, EndpointConfig, complete_all, data_url_encoder
from verl_pixel.data.writers import TextKind, TextRequest, sanitize_text

logger = logging.getLogger(__name__)

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


@dataclasses.dataclass(frozen=True)
class EndpointWriterConfig:
    """Where and how to call the chat endpoint (the writer's defaults; the client is the shared one).

    Attributes:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended).
        model: the model name sent in each request.
        api_key_env: environment variable holding the bearer token (unset: no Authorization header).
        max_concurrency: requests in flight at once.
        max_retries: retries per request after the first attempt.
        backoff_s: first retry delay; doubled each retry.
        timeout_s: deadline of one request (sending to the reply's last byte).
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

    def endpoint(self) -> EndpointConfig:
        """The shared client's config for these settings (the API key read from ``api_key_env`` now)."""
        return EndpointConfig(
            base_url=self.base_url,
            model=self.model,
            api_key=os.environ.get(self.api_key_env) or None,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            backoff_s=self.backoff_s,
            extra_body=(("seed", self.seed),),
        )


class EndpointWriter:
    """Writes each step's text with one chat-completion request."""

    def __init__(self, config: EndpointWriterConfig) -> None:
        self.config = config
        self.wants_images = config.send_images
        self._encode = data_url_encoder("png")

    def write_many(self, requests: Sequence[TextRequest]) -> list[str]:
        """Texts of all requests, in order (call from synchronous code: it runs its own event loop).

        Raises:
            EndpointError: if a request still fails after its retries.
        """
        bar = tqdm(total=len(requests), desc="writing", unit="text", disable=not self.config.show_progress)
        with bar:
            replies = complete_all(
                self.config.endpoint(),
                [self.messages(request) for request in requests],
                self.config.max_concurrency,
                usable=_has_text,
                on_done=lambda: bar.update(1),
            )
        return [sanitize_text(reply.content) for reply in replies]

    def messages(self, request: TextRequest) -> list[dict[str, Any]]:
        """The chat messages of ``request``: the system prompt, then the task (and the step's images)."""
        instruction = _INSTRUCTIONS[request.kind].format(target=request.target, answer=request.answer)
        text = f"Question: {request.question}\n\nTask: {instruction}"
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if self.config.send_images:
            content += [{"type": "image_url", "image_url": {"url": self._encode(image)}} for image in request.images]
        return [{"role": "system", "content": _SYSTEM_PROMPT}, {"role": "user", "content": content}]


def _has_text(reply: ChatReply) -> bool:
    return bool(sanitize_text(reply.content))
