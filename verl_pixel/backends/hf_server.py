"""The ``hf`` rollout server: a Ray actor holding a transformers copy of the policy and serving verl's ``generate``.

It speaks what verl's ``LLMServerClient`` and ``RolloutReplica`` call on a server (a duck-typed contract in verl
0.9.1): ``generate(...) -> TokenOutput``, ``wake_up``/``sleep``, the KV-cache calls, ``abort_all_requests`` /
``resume_generation`` and profiling, plus :meth:`HFRolloutServer.update_weights`, which the per-rank adapter
(:mod:`verl_pixel.backends.hf_adapter`) calls with the actor's weights every step.

Why its own process: verl patches ``Qwen2_5_VLForConditionalGeneration.forward`` at class level in the actor
process for training, which breaks ``generate`` there; a separate actor keeps a pristine class.

Concurrent requests are micro-batched: requests queued while a batch runs are grouped by sampling settings and
generated together (left-padded), up to ``max_batch_size`` rows.

Sampling is reproducible given ``actor_rollout_ref.rollout.seed`` (verl's rollout seed, 42 by default): each request
samples from its own ``torch.Generator`` whose seed is derived from that seed, the replica rank, the weight version
(one per training step), the request's token ids and image and video pixels, and how many equal requests came before
it in this weight version (:func:`~verl_pixel.backends.hf_generation.request_seed`). Arrival order and batching
therefore do not change what a request samples (only float rounding of batched logits can, far below a sampling
decision), and the n rollouts of a prompt still differ. A ``seed`` in the request's sampling parameters (vLLM's
per-request seed) is used as given. With several replicas, which replica serves a request is verl's load balancer's
choice (least loaded, unless ``rollout.full_determinism``), so reproducibility holds per replica.

Server options come from ``actor_rollout_ref.rollout.engine_kwargs.hf``
(:class:`~verl_pixel.backends.hf_options.HFServerOptions`, validated there), e.g.
``+actor_rollout_ref.rollout.engine_kwargs.hf.max_batch_size=8``.

Test hook, off by default and in every shipped config: ``nudge_text`` / ``nudge_every`` force tool calls out of
random-weight models, which never call a tool. Every ``nudge_every``-th first-turn request is forced to start with
``nudge_text`` followed by the end-of-turn token (and, with ``nudge_followup_text``, every later turn with that
text); the tokens are still produced by ``model.generate`` and carry the model's own log-probs. Metrics of a nudged
run (RaPR, TUR, compliance) measure the hook, not the model: a test that turns it on says so.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import torch
from verl.utils.config import omega_conf_to_dataclass
from verl.workers.config import HFModelConfig
from verl.workers.rollout.replica import TokenOutput

from verl_pixel.backends.hf_generation import (
    GenerationRequest,
    GenerationResult,
    SamplingSpec,
    generate_batch,
    max_new_tokens,
    request_key,
    request_seed,
)
from verl_pixel.backends.hf_options import HFServerOptions

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class _Pending:
    request: GenerationRequest
    spec: SamplingSpec
    future: asyncio.Future


ABORTED = GenerationResult(token_ids=[], log_probs=[])  # answer to requests aborted by verl

DEFAULT_ATTENTION = "flash_attention_2"  # HFModelConfig's default when override_config names none (verl 0.9.1)
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")


def _vision_token_ids(tokenizer: Any) -> tuple[int, ...]:
    ids = [tokenizer.convert_tokens_to_ids(token) for token in VISION_TOKENS]
    return tuple(i for i in ids if i is not None and i != tokenizer.unk_token_id)


class HFRolloutServer:
    """A transformers model answering verl's rollout requests (run as ``ray.remote(HFRolloutServer)``).

    Args:
        config: verl's rollout config (``actor_rollout_ref.rollout``): lengths, ``load_format``, ``dtype``.
        model_config: verl's model config (``actor_rollout_ref.model``): path, processor, remote code.
        replica_rank: index of the replica this server belongs to.
    """

    def __init__(self, config: Any, model_config: Any, replica_rank: int = 0) -> None:
        self.config = omega_conf_to_dataclass(config)
        self.model_config: HFModelConfig = omega_conf_to_dataclass(model_config, dataclass_type=HFModelConfig)
        self.replica_rank = replica_rank
        self.options = HFServerOptions.from_engine_kwargs(self.config.engine_kwargs)
        tokenizer = self.model_config.tokenizer
        nudge = tokenizer.encode(self.options.nudge_text, add_special_tokens=False) if self.options.nudge_text else []
        self._nudge_ids = tuple([*nudge, tokenizer.eos_token_id]) if nudge else ()
        followup = self.options.nudge_followup_text
        followup_ids = tokenizer.encode(followup, add_special_tokens=False) if followup else []
        self._followup_ids = tuple([*followup_ids, tokenizer.eos_token_id]) if followup_ids else ()
        self._first_turns = 0
        self._suppressed = _vision_token_ids(tokenizer) if self.options.suppress_vision_tokens else ()
        hf_config = self.model_config.hf_config
        self._vision_ids = (getattr(hf_config, "image_token_id", None), getattr(hf_config, "video_token_id", None))
        self._paused = False
        self.model = self._load_model()
        self.image_processor = getattr(self.model_config.processor, "image_processor", None)
        self.video_processor = getattr(self.model_config.processor, "video_processor", None)
        self.eos_token_ids = self._eos_token_ids()
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_token_ids[0]
        self.global_steps: int | None = None
        self.weight_version = 0
        # Equal requests seen in this weight version, by request key: their occurrence index enters the seed.
        self._occurrences: collections.Counter[bytes] = collections.Counter()
        self._queue: list[_Pending] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._weights_lock: asyncio.Lock | None = None
        self._worker: asyncio.Task | None = None

    def _load_model(self) -> torch.nn.Module:
        """The policy in verl's configured precision and attention, as vLLM / SGLang would load it.

        ``actor_rollout_ref.rollout.dtype`` (verl's default bfloat16; the CPU configs set float32 to match their fp32
        actor) and ``actor_rollout_ref.model.override_config.attn_implementation`` (verl's default
        flash_attention_2, the attention the actor trains with; the CPU configs set sdpa).
        """
        from verl.utils.model import get_hf_auto_model_class
        from verl.utils.torch_dtypes import PrecisionType

        hf_config = self.model_config.hf_config
        auto_cls = get_hf_auto_model_class(hf_config)
        attention = self.model_config.override_config.get("attn_implementation", DEFAULT_ATTENTION)
        kwargs = {
            "dtype": PrecisionType.to_dtype(self.config.dtype),
            "attn_implementation": attention,
            "trust_remote_code": self.model_config.trust_remote_code,
        }
        if self.config.load_format == "dummy":  # weights arrive from the actor before the first rollout
            model = auto_cls.from_config(hf_config, **kwargs)
        else:
            model = auto_cls.from_pretrained(self.model_config.local_path, **kwargs)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        return model.to(device).eval()

    def _eos_token_ids(self) -> list[int]:
        eos = self.model_config.generation_config.eos_token_id if self.model_config.generation_config else None
        eos = eos if eos is not None else self.model_config.tokenizer.eos_token_id
        return list(eos) if isinstance(eos, (list, tuple)) else [int(eos)]

    async def ready(self) -> bool:
        """Called once after creation so the replica waits for the model to load."""
        return True

    # ----------------------------------------------------------------- generation
    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: list[Any] | None = None,
        video_data: list[Any] | None = None,
        audio_data: list[Any] | None = None,
        mm_processor_kwargs: dict[str, Any] | None = None,
        priority: int = 0,
        **kwargs: Any,
    ) -> TokenOutput:
        """Continue ``prompt_ids`` (with ``image_data`` / ``video_data``); return the new tokens and their log-probs."""
        if audio_data:
            raise NotImplementedError("the hf rollout backend supports text, images and videos, not audio")
        budget = max_new_tokens(
            sampling_params, len(prompt_ids), self.config.prompt_length, self.config.response_length
        )
        ids = tuple(int(t) for t in prompt_ids)
        images, videos = tuple(image_data or ()), tuple(video_data or ())
        seed = self._seed(ids, images, videos, sampling_params)
        request = GenerationRequest(ids, images, budget, self._nudge(ids), seed, videos)
        result: GenerationResult = await self._submit(request, SamplingSpec.from_params(sampling_params))
        return TokenOutput(
            token_ids=result.token_ids,
            log_probs=result.log_probs if sampling_params.get("logprobs", True) else None,
            stop_reason="aborted" if result is ABORTED else "completed",
            extra_fields={"global_steps": self.global_steps},
        )

    def _nudge(self, prompt_ids: tuple[int, ...]) -> tuple[int, ...]:
        if not (self.options.nudge_every and self._nudge_ids):
            return ()
        text = self.model_config.tokenizer.decode(prompt_ids)
        if text.count("<|im_start|>assistant") != 1:  # a later turn: the follow-up nudge, if any
            return self._followup_ids
        self._first_turns += 1
        return self._nudge_ids if self._first_turns % self.options.nudge_every == 1 % self.options.nudge_every else ()

    def _seed(
        self, prompt_ids: tuple[int, ...], images: tuple[Any, ...], videos: tuple[Any, ...], sampling_params: dict
    ) -> int:
        """The request's sampling seed: vLLM's per-request ``seed`` if given, else derived (module docstring)."""
        if sampling_params.get("seed") is not None:
            return int(sampling_params["seed"])
        key = request_key(prompt_ids, images, videos)
        occurrence = self._occurrences[key]
        self._occurrences[key] += 1
        return request_seed(self.config.seed, f"{self.replica_rank}/{self.weight_version}", key, occurrence)

    def _bind_loop(self) -> None:
        """Create the batching task and its primitives on the running loop (once per loop: Ray uses one loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._queue = loop, []
            self._wakeup, self._weights_lock = asyncio.Event(), asyncio.Lock()
            self._worker = loop.create_task(self._serve())

    async def _submit(self, request: GenerationRequest, spec: SamplingSpec) -> GenerationResult:
        if self._paused:
            return ABORTED
        self._bind_loop()
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(request, spec, future))
        self._wakeup.set()
        return await future

    async def _serve(self) -> None:
        while True:
            await self._wakeup.wait()
            await asyncio.sleep(0)  # let requests arriving in the same tick join the batch
            batch = self._take_batch()
            if not self._queue:
                self._wakeup.clear()
            if batch:
                await self._run(batch)

    def _take_batch(self) -> list[_Pending]:
        if not self._queue:
            return []
        spec = self._queue[0].spec
        batch = [p for p in self._queue if p.spec == spec][: self.options.max_batch_size]
        taken = {id(p) for p in batch}
        self._queue = [p for p in self._queue if id(p) not in taken]
        return batch

    async def _run(self, batch: Sequence[_Pending]) -> None:
        try:
            async with self._weights_lock:
                results = await asyncio.to_thread(
                    generate_batch,
                    self.model,
                    self.image_processor,
                    [p.request for p in batch],
                    batch[0].spec,
                    self.eos_token_ids,
                    self.pad_token_id,
                    self._suppressed,
                    self._vision_ids,
                    self.video_processor,
                )
            for pending, result in zip(batch, results, strict=True):
                if not pending.future.done():  # an aborted request was already answered
                    pending.future.set_result(result)
        except Exception as err:
            if len(batch) > 1:  # isolate the bad request: one malformed prompt must not fail its batch-mates
                logger.warning("hf rollout batch of %d failed (%s); retrying its rows one by one", len(batch), err)
                for pending in batch:
                    await self._run([pending])
                return
            logger.exception("hf rollout request failed")
            if not batch[0].future.done():
                batch[0].future.set_exception(err)

    # -------------------------------------------------------------------- weights
    async def update_weights(self, named_tensors: list[tuple[str, torch.Tensor]], global_steps: int | None = None):
        """Copy the actor's full tensors into the model (names are the HF module's own state-dict keys)."""
        self._bind_loop()
        async with self._weights_lock:
            state = self.model.state_dict()
            unknown = [name for name, _ in named_tensors if name not in state]
            if unknown:
                raise KeyError(f"hf rollout: {len(unknown)} weights not in the model, e.g. {unknown[:3]}")
            for name, tensor in named_tensors:
                state[name].copy_(tensor.to(dtype=state[name].dtype, device=state[name].device))
            self.global_steps = global_steps
            self.weight_version += 1
            self._occurrences.clear()
        return len(named_tensors)

    async def get_weight_version(self) -> int:
        """How many weight updates the server has applied (for tests and logs)."""
        return self.weight_version

    # ------------------------------------------------ lifecycle verl drives by name
    async def wake_up(self, tags: list[str] | None = None) -> None:
        """No-op: the model stays resident (a CPU debug backend keeps one copy in RAM)."""

    async def sleep(self) -> None:
        """No-op, see :meth:`wake_up`."""

    async def clear_kv_cache(self) -> None:
        """No-op: no cache outlives a ``generate`` call."""

    release_kv_cache = resume_kv_cache = clear_kv_cache

    async def abort_all_requests(self, reset_prefix_cache: bool = True, reject_request: bool = False) -> dict:
        """Answer queued requests with ``stop_reason="aborted"``, which verl's async trainers resubmit.

        With ``reject_request``, new requests are answered the same way until :meth:`resume_generation`. A running
        batch finishes.
        """
        aborted = [p for p in self._queue if not p.future.done()]
        for pending in aborted:
            pending.future.set_result(ABORTED)
        self._queue = []
        self._paused = reject_request
        return {"aborted": len(aborted)}

    async def resume_generation(self) -> None:
        """Accept requests again after :meth:`abort_all_requests`."""
        self._paused = False

    async def start_profile(self, **kwargs: Any) -> None:
        """Profiling is not supported; ignored."""

    async def stop_profile(self) -> None:
        """Profiling is not supported; ignored."""
