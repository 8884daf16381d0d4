"""An analysis writer backed by any OpenAI-compatible chat endpoint (``POST {base_url}/chat/completions``).

Requests go through the project's one client (:mod:`verl_pixel.chat_endpoint`: its retry policy, per-request
deadline, ``Retry-After`` handling and :class:`~verl_pixel.chat_endpoint.EndpointError`), ``max_concurrency`` at a
time, with a tqdm bar. An answer that is empty after sanitizing (:func:`~verl_pixel.data.writers.sanitize_text`)
is retried like a transient failure. A request that still fails stops the synthesis with ``EndpointError``.
"""

from __future__ import annotations

import dataclasses
import logging
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


def writer_endpoint(base_url: str, model: str, seed: int = 0, **overrides: Any) -> EndpointConfig:
    """The shared client's config with the writer's defaults, each overridable by ``overrides``.

    Defaults: sampling at temperature 0.7, answers of at most 256 tokens, a 60 s deadline per request, 4 retries;
    ``seed`` is sent with every request (servers that honour it make runs repeatable); the API key is
    ``$OPENAI_API_KEY`` unless ``api_key`` is given.
    """
    options: dict[str, Any] = {"temperature": 0.7, "max_tokens": 256, "timeout_s": 60.0, "max_retries": 4}
    return EndpointConfig(base_url=base_url, model=model, extra_body=(("seed", seed),), **{**options, **overrides})


@dataclasses.dataclass(frozen=True)
class EndpointWriterConfig:
    """How the writer calls the chat endpoint.

    Attributes:
        endpoint: the client's config (:func:`writer_endpoint` gives the writer's defaults).
        max_concurrency: requests in flight at once.
        send_images: attach the step's images as PNG data URLs (for VLM endpoints).
        show_progress: draw a tqdm progress bar.
    """

    endpoint: EndpointConfig
    max_concurrency: int = 8
    send_images: bool = False
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")


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
                self.config.endpoint,
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
