"""The group step in verl V1: a replay buffer that shapes each prompt group's rewards as soon as the group finishes.

Why here. verl 0.9.1 gives no reward manager a whole group (``run_single`` sees one trajectory). Of the places that
see all n rollouts of a prompt before advantages are computed, the V1 replay buffer is the one with a documented
extension point: ``trainer.v1.sampler.custom_sampler`` loads any ``ReplayBuffer`` subclass, its ``sample`` runs
before ``_compute_advantage`` and returns metrics that verl logs with the step. The alternatives need more: an
advantage estimator (``register_adv_est``) receives only rewards and uids, no records or modes; an agent-loop-worker
subclass must copy and override private ``_run_prompt`` internals and still could not log training metrics
(``research/group_reward_hook.md``). No trainer code is forked or patched.

Enable (hydra overrides on ``main_ppo``; both classes live in this module)::

    reward.reward_manager.name=pixel
    trainer.v1.sampler.custom_sampler.path=pkg://verl_pixel.reward.adapters.replay_buffer
    trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer        # trainer.v1.trainer_mode=sync (default)
    # trainer.v1.sampler.custom_sampler.name=PixelReplayBufferAsync  # colocate_async / separate_async
    +pixel.reward.method=look_less                                   # any pixel.reward.* (pixel_config.py)

and only for DAPO group filtering / failed-group refill (verl hands these to its built-in buffer only, so a custom
buffer must get them back through ``sampler_kwargs``; the buffer refuses to start if they disagree with
``algorithm.filter_groups`` / ``trainer.v1.sampler.sync_refill_failed_groups``)::

    algorithm.filter_groups.enable=True
    +trainer.v1.sampler.sampler_kwargs.filter_groups_metric=reward          # = algorithm.filter_groups.metric
    +trainer.v1.sampler.sampler_kwargs.train_batch_size=${data.train_batch_size}
    +trainer.v1.sampler.sampler_kwargs.gen_batch_size=1
    +trainer.v1.sampler.sampler_kwargs.max_inflight_gen_batches=${algorithm.filter_groups.max_inflight_gen_batches}
    # +trainer.v1.sampler.sampler_kwargs.sync_refill_failed_groups=True   # with trainer.v1.sampler.sync_refill...
    # +trainer.v1.sampler.sampler_kwargs.poll_interval=2.0

Where the reward config comes from: verl passes a custom buffer only ``sampler_kwargs``, not the trainer config. The
buffer uses ``sampler_kwargs.pixel`` when given (e.g. ``+trainer.v1.sampler.sampler_kwargs.pixel='${pixel}'``), else
the ``pixel`` section of the trainer's config, reached through ``refill_fn`` (verl passes the bound method
``trainer._add_prompts_to_generate``), else defaults. The same object also lets the buffer check the DAPO settings,
that the manager is ``pixel`` and that no colocated reward model would overwrite the shaped scores after sampling.

What it does, step by step:

1. Every poll (``_sync_metadata_from_transfer_queue``, run by ``sample`` and the async waits before eviction and
   selection), each prompt group of a non-validation partition that turned ``finished`` (or ``failure``, whose
   surviving trajectories sync mode may still train on) since the last poll is shaped once:
2. read its trajectories' ``extra_fields``, ``rm_scores`` and the row's ``extra_info`` from TransferQueue; translate
   and shape with :func:`verl_pixel.reward.shaping.group_step.shape_stored_groups` (the math is the pure core's),
   which with ``pixel.probing.enable`` first feeds the necessity memory the group's evidence and takes need(x)
   from it (the memory and its link to the training dataset: :mod:`verl_pixel.reward.adapters.probe_link`);
3. write back ``rm_scores`` (shaped total at the last response token, as verl's agent loop puts it), ``uid`` (GRPO
   groups per (prompt, advantage group)), ``extra_fields`` (per-rollout components in ``reward_extra_info``) and, for
   rollouts that must not train, all-zero ``response_mask`` / ``loss_mask``, as verl does for its padding rows;
4. verl's own DAPO filter then runs on the shaped ``rm_scores`` (groups without reward variance are evicted and
   refilled), and selection picks the batch;
5. ``sample`` returns verl's metrics plus :func:`verl_pixel.reward.shaping.metrics.step_metrics` of the groups in the
   batch (``pixel/...`` names, logged by verl with the step: console, wandb, file) and, with the memory on,
   ``pixel/memory/prompts`` (prompts it knows) and ``pixel/memory/settled_rate`` (of those with an estimate, the
   share whose need is settled).

HDPO (``pixel.reward.method=hdpo``) writes finished advantages as scores; the run must use
``algorithm.adv_estimator=pixel_precomputed`` (:mod:`verl_pixel.reward.adapters.advantage`), checked at start-up.

The validation partition (``val``) is never shaped. Shaping computes from the stored raw scores, so a resumed run
(async modes restore TransferQueue into a buffer that remembers nothing) writes the same values again.
Caveat: with ``parameter_sync_step > 1`` (separate_async), verl's ``MetricsAggregator`` sums or maxes metrics whose
names contain ``total`` / ``max`` / ``min`` across the cycle's mini-batches (``pixel/reward/total``,
``pixel/stop/max_*``); the other ``pixel/`` metrics are sample-weighted means as intended.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import transfer_queue as tq
from tensordict import NonTensorStack, TensorDict
from transfer_queue import KVBatchMeta
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync

from verl_pixel.pixel_config import PIXEL_SECTION, PixelConfig, RunSettings, check_against_run
from verl_pixel.plain_values import reject_unknown_keys, to_plain
from verl_pixel.reward.adapters.probe_link import ProbeLink, link_probing
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.group_step import GroupStepResult, shape_stored_groups
from verl_pixel.reward.shaping.metrics import step_metrics
from verl_pixel.reward.shaping.necessity_memory import NecessityMemory
from verl_pixel.reward.shaping.shaped_reward import GroupShaping

logger = logging.getLogger(__name__)

VALIDATION_PARTITION = "val"
# Constructor arguments verl gives only its built-in buffer; a custom buffer gets them back through sampler_kwargs.
BUILTIN_SAMPLER_KWARGS = (
    "filter_groups_metric",
    "train_batch_size",
    "gen_batch_size",
    "max_inflight_gen_batches",
    "sync_refill_failed_groups",
    "poll_interval",
)


class _PixelGroupStep:
    """Group shaping on top of verl's ``ReplayBuffer`` / ``ReplayBufferAsync`` (see the module docstring)."""

    sync_mode: bool  # which trainer modes the concrete class serves

    def __init__(
        self,
        trainer_mode: str,
        trainer_config: Any,
        max_off_policy_threshold: int | None,
        max_off_policy_strategy: str,
        sampler_kwargs: Mapping[str, Any] | None,
        refill_fn: Callable[[int], Any] | None = None,
        **builtin_kwargs: Any,
    ) -> None:
        _check_trainer_mode(type(self).__name__, trainer_mode, self.sync_mode)
        options = _sampler_options(sampler_kwargs)
        trainer_cfg = _trainer_config_of(refill_fn)
        restored = {name: options[name] for name in BUILTIN_SAMPLER_KWARGS if options.get(name) is not None}
        super().__init__(
            trainer_mode=trainer_mode,
            trainer_config=trainer_config,
            max_off_policy_threshold=max_off_policy_threshold,
            max_off_policy_strategy=max_off_policy_strategy,
            sampler_kwargs=sampler_kwargs,
            refill_fn=refill_fn,
            **{**restored, **builtin_kwargs},
        )
        pixel = _pixel_config(options, trainer_cfg)
        self.reward_config: ShapingConfig = pixel.reward
        if trainer_cfg is not None:
            _check_against_trainer(self, trainer_cfg)
            # The start-up check ran these in the driver already when the config declares it; here they also
            # guard a run launched without it, still before any rollout.
            for warning in check_against_run(pixel, RunSettings.from_trainer_config(trainer_cfg)):
                logger.warning("pixel group step: %s", warning)
        # partition -> uid -> shaping of a terminal group still in TransferQueue (metrics source, shape-once guard)
        self._shaped: dict[str, dict[str, GroupShaping]] = defaultdict(dict)
        self.probe_link: ProbeLink | None = None
        if pixel.probing.enable:
            trainer = getattr(refill_fn, "__self__", None)
            memory = NecessityMemory(pixel.probing, pixel.reward.look_less.margin)
            self.probe_link = ProbeLink(memory, pixel.rollout, lambda: getattr(trainer, "train_dataset", None))
            link_probing(self.probe_link)
            logger.info("pixel group step: necessity memory on (%s)", pixel.probing)

    def _sync_metadata_from_transfer_queue(self) -> None:
        super()._sync_metadata_from_transfer_queue()
        for partition_id in self.finished_keys.keys() | self.failure_keys.keys():
            if partition_id != VALIDATION_PARTITION:
                self._shape_new_groups(partition_id)

    def sample(self, global_steps: int, partition_id: str, batch_size: int) -> tuple[KVBatchMeta, dict]:
        """verl's sampling, plus the ``pixel/`` step metrics of the groups in the sampled batch."""
        batch, metrics = super().sample(global_steps=global_steps, partition_id=partition_id, batch_size=batch_size)
        if partition_id == VALIDATION_PARTITION:
            return batch, metrics
        return batch, {**metrics, **self._batch_metrics(partition_id, batch.keys), **self._memory_metrics()}

    def _memory_metrics(self) -> dict[str, float]:
        if self.probe_link is None:
            return {}
        with self.probe_link.lock:
            summary = self.probe_link.memory.summary()
        metrics = {"pixel/memory/prompts": summary["prompts"]}
        if summary["estimated"]:
            metrics["pixel/memory/settled_rate"] = summary["settled"] / summary["estimated"]
        return metrics

    def _shape_new_groups(self, partition_id: str) -> None:
        terminal = self.finished_keys[partition_id] | self.failure_keys[partition_id]
        shaped = self._shaped[partition_id]
        for uid in shaped.keys() - terminal:  # cleared from TransferQueue (trained, evicted or discarded)
            del shaped[uid]
        new = terminal - shaped.keys()
        keys = sorted(key for key in self.partitions[partition_id] if key.split("_")[0] in new)
        if not keys:
            return
        fields = ["rm_scores", "extra_fields", "extra_info"]
        stored = tq.kv_batch_get(keys=keys, partition_id=partition_id, select_fields=fields)
        extra_fields = [getattr(item, "data", item) for item in stored["extra_fields"]]
        extra_infos = [getattr(item, "data", item) for item in stored["extra_info"]]
        link = self.probe_link
        if link is None:
            result = shape_stored_groups(keys, extra_fields, self.reward_config, extra_infos)
        else:
            with link.lock:
                result = shape_stored_groups(keys, extra_fields, self.reward_config, extra_infos, link.memory)
        _write_back(partition_id, result, list(stored["rm_scores"].unbind(0)))
        shaped.update(result.groups)
        logger.debug("pixel group step: shaped %d groups in partition %s", len(result.groups), partition_id)

    def _batch_metrics(self, partition_id: str, keys: Sequence[str]) -> dict[str, float]:
        shaped = self._shaped[partition_id]
        uids = dict.fromkeys(key.split("_")[0] for key in keys)
        return step_metrics([shaped.pop(uid) for uid in uids if uid in shaped])


class PixelReplayBuffer(_PixelGroupStep, ReplayBuffer):
    """verl's sync ``ReplayBuffer`` with verl-pixel's group shaping (``trainer.v1.trainer_mode=sync``)."""

    sync_mode = True


class PixelReplayBufferAsync(_PixelGroupStep, ReplayBufferAsync):
    """verl's ``ReplayBufferAsync`` with verl-pixel's group shaping (``colocate_async`` / ``separate_async``)."""

    sync_mode = False


def _write_back(partition_id: str, result: GroupStepResult, rm_rows: list[torch.Tensor]) -> None:
    """Put the shaped scores, advantage uids and components; mask out rollouts that must not train."""
    scores = []
    for update, row in zip(result.updates, rm_rows, strict=True):
        shaped = torch.zeros_like(row)
        shaped[-1] = update.score  # where verl's AgentLoopOutput.as_dict puts the trajectory's reward
        scores.append(shaped)
    keys = [update.key for update in result.updates]
    fields = {
        "rm_scores": torch.nested.as_nested_tensor(scores, layout=torch.jagged),
        "uid": NonTensorStack(*[update.advantage_uid for update in result.updates]),
        "extra_fields": NonTensorStack(*[update.extra_fields for update in result.updates]),
    }
    tq.kv_batch_put(keys=keys, partition_id=partition_id, fields=TensorDict(fields, batch_size=len(keys)))
    frozen = [i for i, update in enumerate(result.updates) if not update.trainable]
    if frozen:
        zeros = [torch.zeros(rm_rows[i].shape[0], dtype=torch.int64) for i in frozen]
        masks = {
            name: torch.nested.as_nested_tensor(zeros, layout=torch.jagged) for name in ("response_mask", "loss_mask")
        }
        tq.kv_batch_put(
            keys=[keys[i] for i in frozen], partition_id=partition_id, fields=TensorDict(masks, batch_size=len(frozen))
        )


def _check_trainer_mode(class_name: str, trainer_mode: str, sync_mode: bool) -> None:
    if (trainer_mode == "sync") != sync_mode:
        other = "PixelReplayBufferAsync" if sync_mode else "PixelReplayBuffer"
        raise ValueError(
            f"{class_name} does not serve trainer.v1.trainer_mode={trainer_mode}: set "
            f"trainer.v1.sampler.custom_sampler.name={other} (its base class decides eviction semantics)"
        )


def _sampler_options(sampler_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    options = to_plain(sampler_kwargs) or {}
    reject_unknown_keys(options, (PIXEL_SECTION, *BUILTIN_SAMPLER_KWARGS), "trainer.v1.sampler.sampler_kwargs")
    return options


def _trainer_config_of(refill_fn: Callable[[int], Any] | None) -> Mapping[str, Any] | None:
    """verl's whole config, when ``refill_fn`` is the trainer's bound ``_add_prompts_to_generate`` (as in 0.9.1)."""
    config = getattr(getattr(refill_fn, "__self__", None), "config", None)
    return config if isinstance(config, Mapping) else None


def _pixel_config(options: Mapping[str, Any], trainer_cfg: Mapping[str, Any] | None) -> PixelConfig:
    """The whole ``pixel`` section, validated: from ``sampler_kwargs.pixel``, else the trainer's config."""
    if options.get(PIXEL_SECTION) is not None:
        return PixelConfig.from_mapping(options[PIXEL_SECTION])
    if trainer_cfg is not None:
        return PixelConfig.from_mapping(trainer_cfg.get(PIXEL_SECTION))
    logger.warning("pixel group step: no pixel section in sampler_kwargs or the trainer config; using defaults")
    return PixelConfig()


def _check_against_trainer(buffer: ReplayBuffer, config: Mapping[str, Any]) -> None:
    """Refuse settings under which shaping would silently not happen or DAPO would silently change.

    Raises:
        ValueError: naming the setting to change.
    """
    reward = to_plain(config.get("reward")) or {}
    manager = (reward.get("reward_manager") or {}).get("name")
    if manager != "pixel":
        logger.warning("pixel group step: reward.reward_manager.name=%s; it must write pixel/acc (use pixel)", manager)
    reward_model = reward.get("reward_model") or {}
    if reward_model.get("enable") and not reward_model.get("enable_resource_pool"):
        raise ValueError(
            "pixel group step: a colocated reward model overwrites rm_scores after sampling, undoing the shaping; "
            "use reward.reward_model.enable=False or reward.reward_model.enable_resource_pool=True"
        )
    filter_groups = to_plain((config.get("algorithm") or {}).get("filter_groups")) or {}
    expected_metric = filter_groups.get("metric") if filter_groups.get("enable") else None
    if buffer.filter_groups_metric != expected_metric:
        raise ValueError(
            f"pixel group step: DAPO filtering is {buffer.filter_groups_metric!r} here but algorithm.filter_groups "
            f"says {expected_metric!r}; set +trainer.v1.sampler.sampler_kwargs.filter_groups_metric (and "
            "train_batch_size, gen_batch_size=1, max_inflight_gen_batches) exactly when filter_groups.enable=True"
        )
    sampler = to_plain(((config.get("trainer") or {}).get("v1") or {}).get("sampler")) or {}
    if bool(sampler.get("sync_refill_failed_groups")) != bool(buffer.sync_refill_failed_groups):
        raise ValueError(
            "pixel group step: trainer.v1.sampler.sync_refill_failed_groups differs from "
            "sampler_kwargs.sync_refill_failed_groups; set both (and gen_batch_size=1)"
        )
