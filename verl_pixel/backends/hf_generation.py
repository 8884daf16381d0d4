"""Batched generation with a transformers VLM, as a rollout server needs it (no verl import).

The agent loop sends token ids whose ``<|image_pad|>`` / ``<|video_pad|>`` runs are already expanded (verl's
Continuous Token builder) plus the images and videos; the model needs only ``pixel_values``/``image_grid_thw`` from
the image processor and ``pixel_values_videos``/``video_grid_thw`` from the video processor (videos arrive decoded
and sampled as verl's ``video_data``: ``(frames, metadata)`` pairs). No ``second_per_grid_ts`` is passed, so the
model places video tokens in M-RoPE exactly as verl's agent loop computes the ``position_ids`` the actor trains
on (verl 0.9.1 passes none to ``get_rope_index``: one second per temporal patch). Requests that
share sampling settings are left-padded into one ``generate`` call; each row is then cut at its first stop token
(kept, as vLLM returns it) or at its own token budget.

Seeded sampling: a request with a ``seed`` draws its tokens from its own ``torch.Generator`` (:class:`SeededSampling`),
so what it samples depends on its seed and its logits only, not on which requests share its batch or in which
order they arrived (transformers' own sampling draws from the process-wide RNG, row after row of the whole batch).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper


@dataclasses.dataclass(frozen=True)
class SamplingSpec:
    """verl's sampling parameters, normalised; requests with equal specs can share a ``generate`` call.

    ``max_tokens`` is not part of the spec: rows of one batch may have different budgets.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off (verl/vLLM send -1 for off; transformers would read that as its default top_k=50)
    repetition_penalty: float = 1.0
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SamplingSpec:
        """Read the dict verl's agent loops send (``temperature``, ``top_p``, ``top_k``, ``stop_token_ids``, ...)."""
        top_k = params.get("top_k")
        return cls(
            temperature=float(params.get("temperature", 1.0) or 0.0),
            top_p=float(params.get("top_p", 1.0) or 1.0),
            top_k=int(top_k) if top_k is not None and int(top_k) > 0 else 0,
            repetition_penalty=float(params.get("repetition_penalty", 1.0) or 1.0),
            stop_token_ids=tuple(sorted(set(params.get("stop_token_ids") or ()))),
            ignore_eos=bool(params.get("ignore_eos", False)),
        )

    def generate_kwargs(self, eos_token_ids: Sequence[int], seeded: bool = False) -> dict[str, Any]:
        """Keyword arguments for ``model.generate`` (greedy when temperature is 0).

        With ``seeded``, ``generate`` runs greedy too: :class:`SeededSampling`, the last logits processor, has
        already drawn the token and left it the only finite score.
        """
        stops = list(self.stop_token_ids) + ([] if self.ignore_eos else list(eos_token_ids))
        kwargs: dict[str, Any] = {
            "eos_token_id": sorted(set(stops)) or None,
            "repetition_penalty": self.repetition_penalty,
        }
        if self.temperature <= 0 or seeded:
            return {**kwargs, "do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        return {**kwargs, "do_sample": True, "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k}

    def stops(self, eos_token_ids: Sequence[int]) -> frozenset[int]:
        """Token ids that end a row."""
        return frozenset(self.stop_token_ids) | (frozenset() if self.ignore_eos else frozenset(eos_token_ids))


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """One prompt to continue."""

    prompt_ids: tuple[int, ...]
    images: tuple[Any, ...]
    max_new_tokens: int
    forced_prefix: tuple[int, ...] = ()  # tokens the row must start with (a test-only nudge, see hf_server)
    seed: int | None = None  # seed of the row's own sampling generator (None: transformers' global-RNG sampling)
    videos: tuple[Any, ...] = ()  # verl's video_data: (frames, metadata) pairs, in prompt order


def request_key(prompt_ids: Sequence[int], images: Sequence[Any], videos: Sequence[Any] = ()) -> bytes:
    """A digest of what a request asks: its token ids and its images' and videos' content."""
    digest = hashlib.sha256(",".join(str(int(token)) for token in prompt_ids).encode())
    for image in images:
        digest.update(image_fingerprint(image))
    for video in videos:
        digest.update(video_fingerprint(video))
    return digest.digest()


def video_fingerprint(video: Any) -> bytes:
    """A digest of a ``(frames, metadata)`` video: the frames' shape and values, and the metadata."""
    frames, metadata = video if isinstance(video, tuple) else (video, None)
    array = torch.as_tensor(frames).detach().cpu().contiguous()
    header = f"{tuple(array.shape)}|{array.dtype}|{sorted((metadata or {}).items())!r}|".encode()
    return hashlib.sha256(header + array.numpy().tobytes()).digest()


def image_fingerprint(image: Any) -> bytes:
    """A digest of an image's content (mode, size and pixels for PIL images; ``repr`` otherwise)."""
    if hasattr(image, "tobytes") and hasattr(image, "size"):
        header = f"{getattr(image, 'mode', '')}|{image.size}|".encode()
        return hashlib.sha256(header + image.tobytes()).digest()
    return hashlib.sha256(repr(image).encode()).digest()


def request_seed(base_seed: int, stream: str, key: bytes, occurrence: int) -> int:
    """A sampling seed from the run's seed and what the request is, not from when it arrived.

    Args:
        base_seed: the run's rollout seed.
        stream: separates otherwise equal requests that must not sample alike (the server uses its replica rank
            and weight version: another replica, or a new policy, samples afresh).
        key: :func:`request_key` of the request.
        occurrence: how many equal requests (same key) the stream has served before, so the n rollouts of one
            prompt get different seeds. Equal requests are interchangeable, so their arrival order does not matter.

    Returns:
        A 63-bit seed.
    """
    digest = hashlib.sha256(f"{int(base_seed)}|{stream}|{int(occurrence)}|".encode() + key)
    return int.from_bytes(digest.digest()[:8], "little") >> 1


class SeededSampling:
    """Logits processor that samples each row's next token from the row's own ``torch.Generator``.

    Placed last, with ``generate`` in greedy mode: it applies the sampling warpers (temperature, top-k, top-p, as
    transformers' sampling would), draws one token per row and returns scores where only that token is finite, so
    the greedy step takes it. The draw of a row depends only on its seed and its own scores.
    """

    def __init__(self, seeds: Sequence[int], spec: SamplingSpec) -> None:
        self.seeds = list(seeds)
        self.generators: list[torch.Generator] | None = None  # made on the scores' device at the first step
        self.warpers: list[Any] = [TemperatureLogitsWarper(spec.temperature)]
        if spec.top_k > 0:
            self.warpers.append(TopKLogitsWarper(spec.top_k))
        if spec.top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(spec.top_p))

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Draw each row's token; return scores that are 0 there and -inf elsewhere (a copy)."""
        if self.generators is None:
            self.generators = [torch.Generator(device=scores.device).manual_seed(seed) for seed in self.seeds]
        warped = scores
        for warper in self.warpers:
            warped = warper(input_ids, warped)
        probs = torch.softmax(warped.float(), dim=-1)
        chosen = [torch.multinomial(probs[row], 1, generator=gen) for row, gen in enumerate(self.generators)]
        picked = torch.full_like(scores, float("-inf"))
        picked[torch.arange(scores.shape[0], device=scores.device), torch.cat(chosen)] = 0.0
        return picked


class SuppressTokens:
    """Logits processor that never samples ``token_ids`` (e.g. vision placeholders a policy must not emit).

    Works on a copy: transformers keeps the incoming tensor as the raw logits the log-probs come from.
    """

    def __init__(self, token_ids: Sequence[int]) -> None:
        self.token_ids = torch.tensor(sorted(set(token_ids)), dtype=torch.long)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Set the suppressed tokens' scores to -inf."""
        scores = scores.clone()
        scores[:, self.token_ids.to(scores.device)] = float("-inf")
        return scores


@dataclasses.dataclass(frozen=True)
class GenerationResult:
    """New tokens (stop token included when hit) and their log-probs under the sampling distribution."""

    token_ids: list[int]
    log_probs: list[float]


def max_new_tokens(params: Mapping[str, Any], prompt_len: int, prompt_length: int, response_length: int) -> int:
    """The token budget of a request: ``max_tokens`` if given, else vLLM's default for verl's lengths (>= 1)."""
    if params.get("max_tokens"):
        return max(1, int(params["max_tokens"]))
    return max(1, min(response_length, prompt_length + response_length - prompt_len))


def _vision_inputs(
    image_processor: Any, requests: Sequence[GenerationRequest], video_processor: Any = None
) -> dict[str, torch.Tensor]:
    inputs: dict[str, torch.Tensor] = {}
    images = [image for request in requests for image in request.images]
    if images:
        vision = image_processor(images=images, return_tensors="pt")
        inputs.update(pixel_values=vision["pixel_values"], image_grid_thw=vision["image_grid_thw"])
    videos = [video for request in requests for video in request.videos]
    if videos:
        if video_processor is None:
            raise ValueError("a request carries a video but the model's processor has no video processor")
        frames, metadata = zip(*videos, strict=True)
        vision = video_processor(
            videos=list(frames), video_metadata=list(metadata), do_sample_frames=False, return_tensors="pt"
        )
        inputs.update(pixel_values_videos=vision["pixel_values_videos"], video_grid_thw=vision["video_grid_thw"])
    return inputs


def _model_inputs(
    processors: tuple[Any, Any],
    requests: Sequence[GenerationRequest],
    ids: torch.Tensor,
    vision_token_ids: tuple[int | None, int | None],
    device: Any,
) -> dict[str, torch.Tensor]:
    """The batch's vision inputs on ``device``, with the M-RoPE token types when there are any."""
    vision = _vision_inputs(processors[0], requests, processors[1])
    inputs = {key: value.to(device) for key, value in vision.items()}
    if inputs:
        inputs["mm_token_type_ids"] = mm_token_type_ids(ids, *vision_token_ids).to(device)
    return inputs


def mm_token_type_ids(ids: torch.Tensor, image_token_id: int | None, video_token_id: int | None) -> torch.Tensor:
    """Qwen-VL's per-token modality (0 text, 1 image, 2 video).

    Without it transformers' Qwen2.5-VL gives image tokens plain text positions instead of M-RoPE: a different
    model from the one verl's actor trains.
    """
    types = torch.zeros_like(ids)
    if image_token_id is not None:
        types[ids == image_token_id] = 1
    if video_token_id is not None:
        types[ids == video_token_id] = 2
    return types


def _left_pad(requests: Sequence[GenerationRequest], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(request.prompt_ids) for request in requests)
    ids = torch.full((len(requests), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(requests), width), dtype=torch.long)
    for row, request in enumerate(requests):
        ids[row, width - len(request.prompt_ids) :] = torch.tensor(request.prompt_ids)
        mask[row, width - len(request.prompt_ids) :] = 1
    return ids, mask


class ForcedPrefix:
    """Logits processor forcing each row's first tokens (rows without a prefix are untouched).

    The log-probs reported for forced tokens are still the model's own (computed from the raw logits), so the
    trainer sees a consistent, if unlikely, sample.
    """

    def __init__(self, prefixes: Sequence[tuple[int, ...]], prompt_width: int) -> None:
        self.prefixes = prefixes
        self.prompt_width = prompt_width

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Mask every token but the forced one for rows still inside their prefix."""
        step = input_ids.shape[1] - self.prompt_width
        # A copy: transformers keeps this very tensor as the raw logits the log-probs are computed from.
        scores = scores.clone()
        for row, prefix in enumerate(self.prefixes):
            if step < len(prefix):
                forced = torch.full_like(scores[row], float("-inf"))
                forced[prefix[step]] = 0.0
                scores[row] = forced
        return scores


@torch.no_grad()
def generate_batch(
    model: Any,
    image_processor: Any,
    requests: Sequence[GenerationRequest],
    spec: SamplingSpec,
    eos_token_ids: Sequence[int],
    pad_token_id: int,
    suppress_token_ids: Sequence[int] = (),
    vision_token_ids: tuple[int | None, int | None] = (None, None),
    video_processor: Any = None,
) -> list[GenerationResult]:
    """Continue every request with one ``model.generate`` call.

    Args:
        model: a transformers VLM (e.g. ``Qwen2_5_VLForConditionalGeneration``), on any device.
        image_processor: the processor's image processor (computes ``pixel_values`` / ``image_grid_thw``).
        requests: prompts sharing ``spec``; each carries its images and videos in prompt order.
        spec: sampling settings.
        eos_token_ids: the model's end-of-turn ids (generation config).
        pad_token_id: id used for left padding (masked out).
        suppress_token_ids: tokens never sampled (the log-probs stay those of the unsuppressed model).
        vision_token_ids: ids of the image and video placeholders (config ``image_token_id`` / ``video_token_id``).
        video_processor: the processor's video processor (``pixel_values_videos``), needed for videos.

    Returns:
        One result per request, in order.

    Sampling is seeded per row (:class:`SeededSampling`) when every request carries a ``seed``; otherwise it
    uses transformers' sampling and the global RNG.
    """
    device = next(model.parameters()).device
    ids, mask = _left_pad(requests, pad_token_id)
    inputs = _model_inputs((image_processor, video_processor), requests, ids, vision_token_ids, device)
    processors, seeded = _logits_processors(requests, spec, suppress_token_ids, ids.shape[1])
    out = model.generate(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        **inputs,
        max_new_tokens=max(request.max_new_tokens for request in requests),
        pad_token_id=pad_token_id,
        output_logits=True,
        return_dict_in_generate=True,
        logits_processor=processors,
        **spec.generate_kwargs(eos_token_ids, seeded=seeded),
    )
    new_tokens = out.sequences[:, ids.shape[1] :].cpu()
    log_probs = _token_log_probs(out.logits, new_tokens, spec.temperature)
    stops = spec.stops(eos_token_ids)
    return [
        _cut(new_tokens[row], log_probs[row], request.max_new_tokens, stops) for row, request in enumerate(requests)
    ]


def _logits_processors(
    requests: Sequence[GenerationRequest], spec: SamplingSpec, suppress_token_ids: Sequence[int], prompt_width: int
) -> tuple[list[Any], bool]:
    """The logits processors of a batch, in order, and whether its sampling is seeded.

    Suppression first, then forced prefixes (a forced token is never suppressed), then seeded sampling (it draws
    from what the others left).
    """
    prefixes = [request.forced_prefix for request in requests]
    processors: list[Any] = [SuppressTokens(suppress_token_ids)] if suppress_token_ids else []
    processors += [ForcedPrefix(prefixes, prompt_width)] if any(prefixes) else []
    seeded = spec.temperature > 0 and all(request.seed is not None for request in requests)
    if seeded:
        processors.append(SeededSampling([int(request.seed) for request in requests], spec))  # type: ignore[arg-type]
    return processors, seeded


def _token_log_probs(logits: Sequence[torch.Tensor], tokens: torch.Tensor, temperature: float) -> torch.Tensor:
    """Log-prob of each generated token, ``(rows, steps)``, from the raw logits at the sampling temperature.

    That is what verl's actor recomputes (top-k / top-p, off by default in verl, are not reflected). One step at a
    time, so no second full ``rows x steps x vocab`` tensor is built.
    """
    scale = temperature if temperature > 0 else 1.0
    rows = torch.arange(tokens.shape[0])
    per_step = [
        torch.log_softmax(step.float() / scale, dim=-1).cpu()[rows, tokens[:, i]] for i, step in enumerate(logits)
    ]
    return torch.stack(per_step, dim=1)


def _cut(tokens: torch.Tensor, log_probs: torch.Tensor, budget: int, stops: frozenset[int]) -> GenerationResult:
    """Keep a row's tokens up to its first stop token (included) or its own budget; ``log_probs`` is per token."""
    token_ids: list[int] = []
    for token in tokens[:budget].tolist():
        token_ids.append(token)
        if token in stops:
            break
    return GenerationResult(token_ids=token_ids, log_probs=log_probs[: len(token_ids)].tolist())
