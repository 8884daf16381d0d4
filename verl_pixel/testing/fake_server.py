"""Fake LLM servers that speak verl's ``server_manager.generate(...) -> TokenOutput`` interface.

verl's agent loops call ``await server_manager.generate(request_id, *, prompt_ids, sampling_params, image_data,
video_data, audio_data, mm_processor_kwargs, mm_processor_output)`` and consume a
``verl.workers.rollout.replica.TokenOutput``. Two stand-ins implement exactly that call:

* :class:`ScriptedLLMServer` (:mod:`verl_pixel.backends.scripted_server`, re-exported) replays scripted assistant
  texts (or a function of the request), so tests can drive any trajectory — tool calls, malformed calls,
  answers — deterministically.
* :class:`HFModelLLMServer` generates with a transformers model (the tiny Qwen2.5-VL), after checking that the
  prompt's ``<|image_pad|>`` count matches what the processor makes of ``image_data``. This catches token/image
  misalignment that otherwise only vLLM would reveal.

Both record every call (:class:`GenerateCall`) for assertions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from verl.workers.rollout.replica import TokenOutput

from verl_pixel.backends.scripted_server import GenerateCall, Script, ScriptedLLMServer
from verl_pixel.constants import IMAGE_PAD

__all__ = ["GenerateCall", "HFModelLLMServer", "Script", "ScriptedLLMServer"]


class HFModelLLMServer(ScriptedLLMServer):
    """Generates with a transformers VLM on CPU, verifying prompt/image alignment first.

    Args:
        model: a loaded ``Qwen2_5_VLForConditionalGeneration`` (or any model with the same ``generate`` inputs).
        processor: the model's processor (its image processor computes the image grids).
        max_new_tokens: generation cap when ``sampling_params`` carries no ``max_tokens``.
        scripted_turns: texts returned for the first turns of each trajectory instead of generating (e.g. to
            force a tool call from a random-weight model); the alignment check still runs on those turns.
    """

    def __init__(self, model: Any, processor: Any, max_new_tokens: int = 32, scripted_turns: Sequence[str] = ()):
        super().__init__(processor.tokenizer, script=list(scripted_turns) or [""])
        self.scripted_turns = len(scripted_turns)
        self.model = model
        self.processor = processor
        self.max_new_tokens = max_new_tokens
        self.image_pad_id = processor.tokenizer.convert_tokens_to_ids(IMAGE_PAD)

    def _vision_inputs(self, prompt_ids: Sequence[int], images: list[Any]) -> dict[str, torch.Tensor]:
        pads = sum(1 for t in prompt_ids if t == self.image_pad_id)
        if not images:
            if pads:
                raise AssertionError(f"prompt has {pads} {IMAGE_PAD} tokens but no images were sent")
            return {}
        vision = self.processor.image_processor(images=images, return_tensors="pt")
        expected = int(vision["image_grid_thw"].prod(-1).sum()) // self.processor.image_processor.merge_size**2
        if pads != expected:
            raise AssertionError(f"prompt has {pads} {IMAGE_PAD} tokens, images need {expected}")
        return {"pixel_values": vision["pixel_values"], "image_grid_thw": vision["image_grid_thw"]}

    async def generate(
        self,
        request_id: str,
        *,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        image_data: list[Any] | None = None,
        **kwargs: Any,
    ) -> TokenOutput:
        """Greedy (temperature 0) or sampled generation with the model; returns new tokens and their log-probs."""
        call = self._record(request_id, prompt_ids, sampling_params, image_data)
        inputs = {"input_ids": torch.tensor([prompt_ids]), **self._vision_inputs(prompt_ids, list(image_data or []))}
        if call.turn < self.scripted_turns:
            ids = self._encode(self._text(call))
            return TokenOutput(token_ids=ids, log_probs=self._log_probs(ids), stop_reason="completed")
        temperature = float(sampling_params.get("temperature", 1.0))
        with torch.no_grad():
            out = self.model.generate(
                **inputs,
                max_new_tokens=int(sampling_params.get("max_tokens") or self.max_new_tokens),
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_k=None,
                top_p=None,
                output_scores=True,
                return_dict_in_generate=True,
            )
        new = out.sequences[0, len(prompt_ids) :]
        log_probs = [torch.log_softmax(s[0].float(), -1)[t].item() for s, t in zip(out.scores, new, strict=False)]
        return TokenOutput(token_ids=new.tolist(), log_probs=log_probs, stop_reason="completed")
