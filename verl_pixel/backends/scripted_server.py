"""A scripted LLM server that speaks verl's ``server_manager.generate(...) -> TokenOutput`` interface.

verl's agent loops call ``await server_manager.generate(request_id, *, prompt_ids, sampling_params, image_data,
video_data, audio_data, mm_processor_kwargs, mm_processor_output)`` and consume a
``verl.workers.rollout.replica.TokenOutput``. :class:`ScriptedLLMServer` implements exactly that call and replays
scripted assistant texts (or a function of the request), recording every request (:class:`GenerateCall`).

It drives ``pixel_agent`` through a fixed trajectory where no model would: the tests do it everywhere, and
``verl-pixel smoke``'s token-accounting probe scripts one crop to capture the prompt the loop then sends (a
self-test hook; it never serves a training or evaluation run).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from verl.workers.rollout.replica import TokenOutput


@dataclasses.dataclass(frozen=True)
class GenerateCall:
    """One ``generate`` request as the server received it."""

    request_id: str
    turn: int  # 0 for the first call of this request id, 1 for the next, ...
    prompt_ids: tuple[int, ...]
    num_images: int
    sampling_params: dict[str, Any]
    images: tuple[Any, ...] = ()
    videos: tuple[Any, ...] = ()  # verl's video_data: (frames, metadata) pairs


Script = Sequence[str] | Callable[[GenerateCall], str]


class ScriptedLLMServer:
    """Replays assistant texts; the text for turn ``k`` of a trajectory is ``script[k]`` (the last one repeats).

    Args:
        tokenizer: encodes the scripted texts to token ids (no special tokens are added).
        script: a list of texts indexed by turn, or a function of the :class:`GenerateCall` returning the text.
        log_prob: the log-prob reported for every generated token, or a function of the token id giving it.
        end_turn: append the tokenizer's EOS (``<|im_end|>``) to each text, as a real model ends its turn.
    """

    def __init__(
        self, tokenizer: Any, script: Script, log_prob: float | Callable[[int], float] = -0.5, end_turn: bool = True
    ):
        self.tokenizer = tokenizer
        self.end_turn = end_turn
        self.script = script
        self.log_prob = log_prob
        self.calls: list[GenerateCall] = []
        self._turns: dict[str, int] = defaultdict(int)

    def _record(
        self, request_id: str, prompt_ids: Sequence[int], sampling_params: dict, images: Any, videos: Any = None
    ) -> GenerateCall:
        turn = self._turns[request_id]
        self._turns[request_id] += 1
        call = GenerateCall(
            request_id=request_id,
            turn=turn,
            prompt_ids=tuple(prompt_ids),
            num_images=len(images or []),
            sampling_params=dict(sampling_params),
            images=tuple(images or []),
            videos=tuple(videos or []),
        )
        self.calls.append(call)
        return call

    def _encode(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return [*ids, self.tokenizer.eos_token_id] if self.end_turn else ids

    def _log_probs(self, ids: Sequence[int]) -> list[float]:
        return [self.log_prob(t) if callable(self.log_prob) else self.log_prob for t in ids]

    def _text(self, call: GenerateCall) -> str:
        if callable(self.script):
            return self.script(call)
        return self.script[min(call.turn, len(self.script) - 1)]

    async def generate(
        self,
        request_id: str,
        *,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        image_data: list[Any] | None = None,
        video_data: list[Any] | None = None,
        audio_data: list[Any] | None = None,
        mm_processor_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TokenOutput:
        """Return the scripted text for this turn as token ids (capped by ``sampling_params['max_tokens']``)."""
        call = self._record(request_id, prompt_ids, sampling_params, image_data, video_data)
        await asyncio.sleep(0)  # yield like a real server, so concurrent trajectories interleave
        ids = self._encode(self._text(call))
        ids = ids[: sampling_params.get("max_tokens") or len(ids)]
        return TokenOutput(token_ids=ids, log_probs=self._log_probs(ids), stop_reason="completed")
