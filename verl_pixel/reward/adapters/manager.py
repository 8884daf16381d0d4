r"""verl reward manager ``pixel``: scores one trajectory (accuracy, format, trajectory record) in ``run_single``.

Registered in verl 0.9.1's reward-loop registry (``verl.experimental.reward_loop.reward_manager.register``), the
one ``main_ppo`` resolves ``reward.reward_manager.name`` in (through ``verl.trainer.ppo.reward.load_reward_manager``,
called by every ``RewardLoopWorker``). Importing this module registers it; the plugin imports it in every process.

Enable (hydra overrides on ``main_ppo``)::

    reward.reward_manager.name=pixel
    +pixel.reward.method=look_less          # any pixel.reward.* key, see verl_pixel/pixel_config.py

The whole-group step (curiosity / Look Less / DeepEyes shaping) cannot happen here, because verl hands a reward
manager one trajectory at a time; it runs in the replay buffer (:mod:`verl_pixel.reward.adapters.replay_buffer`). This
manager returns the method-neutral reward ``r_acc + format.weight * r_fmt`` as ``reward_score`` (what GRPO sees if
the group step is not configured) and everything the group step needs in ``reward_extra_info``.
``reward.custom_reward_function`` is not used; keep ``reward.reward_model.enable=False`` (with a reward model verl
bypasses the manager).

What verl 0.9.1 hands ``run_single`` (``data``, a DataProto; the last row is the trajectory's final output):

* V1 streaming path (rule-based reward; what group shaping needs): ``AgentLoopWorker._compute_score`` builds one
  DataProto per trajectory: ``prompts`` / ``responses`` unpadded, ``attention_mask`` all ones, **no**
  ``response_mask``; non-tensor: every dataset column (``data_source``, ``reward_model``, ``extra_info``, ``uid``,
  ``session_id``, ...), ``tool_extra_fields`` (the agent loop's ``AgentLoopOutput.extra_fields`` dict, where
  ``pixel_agent`` writes its :class:`~verl_pixel.record.TrajectoryRecord`) and ``__num_turns__``.
* batch path (``AgentLoopWorker._postprocess`` output): left-padded prompts, right-padded responses,
  ``response_mask``; the ``extra_fields`` keys are top-level non-tensor columns.

The record is read from the union of ``extra_info``, the top-level ``pixel/*`` columns and ``tool_extra_fields``
(later ones win). The answer is extracted from the record's ``pixel/answer_text``. Without that key (another agent
loop) the response tokens are decoded instead: with a ``response_mask``, only its last run of 1s (the final
assistant turn), so tool outputs are never scored; without one, the whole response only when the trajectory had no
tool turn (``__num_turns__ <= 2``), otherwise nothing (the answer scores 0, with a warning).

Ground truth: ``reward_model.ground_truth`` of the row; a mapping (or a JSON object string) in the form of
:mod:`verl_pixel.reward.scoring.ground_truth`, or a plain string / number / list of strings, scored as short text.
A malformed ground truth raises ``ValueError`` (a data bug: verl marks the prompt group failed and logs it).

``reward_extra_info`` (identical keys for every trajectory, as verl's batch path requires):

====================================  ======================================================================
key                                   value
====================================  ======================================================================
``acc``                               ``r_acc`` (verl's own name: ``val-core/<source>/acc/...`` in validation)
``pixel/acc``, ``pixel/fmt``          ``r_acc`` in [0, 1], ``r_fmt`` in {-1, 0}: the raw scores group shaping reads
``pixel/answer_source``, ``pixel/answer``  where the answer was found, and the extracted answer
``pixel/used_tool``                   1.0 if >= 1 successful visual operation (its validation mean is the TUR)
``pixel/<record field>``              the record without ``answer_text`` (mode, complied, ops_*, turns, ...)
====================================  ======================================================================
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import torch
from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from verl_pixel.pixel_config import pixel_config
from verl_pixel.plain_values import to_plain
from verl_pixel.record import EXTRA_FIELD_PREFIX, TrajectoryRecord
from verl_pixel.reward.scoring.ground_truth import row_ground_truth
from verl_pixel.reward.scoring.trajectory_score import TrajectoryScore, score_trajectory
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.shaped_reward import ScoredRollout

logger = logging.getLogger(__name__)

REWARD_MANAGER_NAME = "pixel"
ANSWER_TEXT_KEY = EXTRA_FIELD_PREFIX + "answer_text"
ANSWER_KEY = EXTRA_FIELD_PREFIX + "answer"
USED_TOOL_KEY = EXTRA_FIELD_PREFIX + "used_tool"
VERL_ACC_KEY = "acc"
# A trajectory of a user turn and one assistant turn has no tool output in its response.
SINGLE_TURN_NUM_TURNS = 2


@register(REWARD_MANAGER_NAME)
class PixelRewardManager(RewardManagerBase):
    """Score one trajectory with verl-pixel's reward core (see the module docstring for the data it reads)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        tokenizer: Any,
        compute_score: Any = None,
        reward_router_address: str | None = None,
        reward_model_tokenizer: Any = None,
        **_: Any,
    ) -> None:
        super().__init__(config, tokenizer, compute_score)
        # The whole pixel section is validated (a typo in pixel.rollout fails here too), pixel.reward is used.
        self.reward_config = pixel_config(config).reward
        custom_fn = to_plain(config.get("reward") or {}).get("custom_reward_function") or {}
        if custom_fn.get("path"):
            logger.warning("pixel reward: reward.custom_reward_function.path=%s is ignored", custom_fn["path"])
        # The method-neutral total: what the trajectory is worth before its group is known.
        self.plain_config = dataclasses.replace(self.reward_config, method="none")
        warn_if_shaping_unwired(config, self.reward_config.method)

    async def run_single(self, data: DataProto) -> dict[str, Any]:
        """Score the trajectory's final output; returns verl's ``{"reward_score", "reward_extra_info"}``."""
        item = data[-1:][0]  # multi-output trajectories: the final output carries the answer (as verl's naive)
        # Decoding and scoring are CPU work; keep the reward worker's event loop free for other trajectories.
        return await asyncio.get_running_loop().run_in_executor(None, self.score_item, item)

    def score_item(self, item: Any) -> dict[str, Any]:
        """Score one DataProto row (synchronous part of :meth:`run_single`)."""
        non_tensor = item.non_tensor_batch
        fields = trajectory_fields(non_tensor)
        record = TrajectoryRecord.from_mapping(fields)
        if fields.get(ANSWER_TEXT_KEY) is None:
            record = dataclasses.replace(record, answer_text=self.decode_final_answer(item))
        score = score_trajectory(record, row_ground_truth(non_tensor.get("reward_model")), self.reward_config.format)
        plain = shape_group([ScoredRollout(record, score.acc, score.fmt)], self.plain_config).rewards[0]
        return {"reward_score": plain.total, "reward_extra_info": reward_extra_info(record, score)}

    def decode_final_answer(self, item: Any) -> str:
        """Decode the final assistant turn of a trajectory that carries no ``pixel/answer_text``."""
        token_ids = final_turn_token_ids(
            item.batch["responses"],
            item.batch["attention_mask"],
            item.batch.get("response_mask", None),
            item.non_tensor_batch.get("__num_turns__"),
        )
        if token_ids is None:
            logger.warning(
                "pixel reward: a multi-turn trajectory has neither pixel/answer_text nor a response_mask, so its "
                "final answer cannot be told apart from tool outputs; scoring an empty answer (use pixel_agent)"
            )
            return ""
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)


def trajectory_fields(non_tensor: Mapping[str, Any]) -> dict[str, Any]:
    """The trajectory's ``pixel/*`` fields from wherever verl put them (later sources win).

    Sources: the row's ``extra_info`` dict, top-level ``pixel/*`` columns (batch path), and ``tool_extra_fields``
    (the agent loop's ``extra_fields``, V1 streaming path).
    """
    fields: dict[str, Any] = {}
    for source in (non_tensor.get("extra_info"), non_tensor, non_tensor.get("tool_extra_fields")):
        if isinstance(source, Mapping):
            # None is how verl's batch path fills a key another agent loop did not write: not a value.
            fields.update({k: v for k, v in source.items() if _is_pixel_key(k) and v is not None})
    return fields


def _is_pixel_key(key: Any) -> bool:
    return isinstance(key, str) and key.startswith(EXTRA_FIELD_PREFIX)


def final_turn_token_ids(
    responses: torch.Tensor, attention_mask: torch.Tensor, response_mask: torch.Tensor | None, num_turns: Any
) -> list[int] | None:
    """Token ids of the final assistant turn of one response, or None when they cannot be told apart.

    Args:
        responses: the response ids (right-padded or not).
        attention_mask: the row's mask over prompt + response; its response part gives the valid length.
        response_mask: 1 for model tokens, 0 for tool outputs and padding; None on verl's streaming path.
        num_turns: ``__num_turns__`` (user + assistant + tool messages), or None.
    """
    valid = int(attention_mask[-responses.shape[-1] :].sum())
    ids = responses[:valid].tolist()
    if response_mask is None:
        single_turn = num_turns is None or int(num_turns) <= SINGLE_TURN_NUM_TURNS
        return ids if single_turn else None
    model = response_mask[:valid].tolist()
    end = len(model)
    while end > 0 and not model[end - 1]:
        end -= 1
    start = end
    while start > 0 and model[start - 1]:
        start -= 1
    return ids[start:end]


def reward_extra_info(record: TrajectoryRecord, score: TrajectoryScore) -> dict[str, Any]:
    """The per-trajectory values verl stores in ``extra_fields["reward_extra_info"]`` (keys in the module docstring)."""
    info: dict[str, Any] = {VERL_ACC_KEY: score.acc, **score.to_extra_info(), ANSWER_KEY: score.answer}
    info[USED_TOOL_KEY] = float(record.used_tool)
    info.update({k: v for k, v in record.to_extra_fields().items() if k != ANSWER_TEXT_KEY})
    return info


SHAPING_SAMPLERS = ("PixelReplayBuffer", "PixelReplayBufferAsync")


def warn_if_shaping_unwired(config: Mapping[str, Any], method: str) -> bool:
    """Warn when group shaping is asked for but verl V1 is not given the replay buffer that applies it.

    Without ``trainer.v1.sampler.custom_sampler`` pointing at :mod:`verl_pixel.reward.adapters.replay_buffer`,
    GRPO would silently train on the unshaped per-trajectory reward while the probe rollouts still run.

    Returns:
        Whether it warned.
    """
    if method == "none":
        return False
    trainer = to_plain(config.get("trainer") or {})
    sampler = ((trainer.get("v1") or {}).get("sampler") or {}).get("custom_sampler") or {}
    if sampler.get("name") in SHAPING_SAMPLERS and "verl_pixel.reward.adapters.replay_buffer" in str(
        sampler.get("path")
    ):
        return False
    logger.warning(
        "pixel.reward.method=%s shapes rewards per prompt group, but trainer.v1.sampler.custom_sampler is %s: set "
        "trainer.v1.sampler.custom_sampler.path=pkg://verl_pixel.reward.adapters.replay_buffer "
        "and .name=PixelReplayBuffer "
        "(PixelReplayBufferAsync for the async trainers), or the trainer uses the unshaped reward",
        method,
        sampler or "unset",
    )
    return True
