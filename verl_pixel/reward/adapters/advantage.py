"""verl advantage estimator ``pixel_precomputed``: the replay buffer's finished advantages, handed through unchanged.

Registered with verl 0.9.1's ``register_adv_est`` (``verl.trainer.ppo.core_algos``); the plugin imports this module
in every process. Use it with ``pixel.reward.method=hdpo`` only (the start-up check refuses any other pairing)::

    algorithm.adv_estimator=pixel_precomputed
    +pixel.reward.method=hdpo

Why: HDPO normalises two reward channels separately (:mod:`verl_pixel.reward.shaping.hdpo`), but verl's V1
``_compute_advantage`` gives an estimator only ``rm_scores`` (one number per trajectory), the response mask and
``uid``. The replay buffer sees the whole group with its records, computes each rollout's advantage there and
writes it as the rollout's score (at the last response token, where verl puts a trajectory's reward); this
estimator returns ``score * response_mask`` as both advantages and returns, exactly as verl's GRPO broadcasts its
outcome advantage. verl sends non-GRPO estimators through ``compute_advantage`` over every row (not only each
session's final output): ``pixel_agent`` produces one output per session, and a frozen row's score and mask are 0.
"""

from __future__ import annotations

from typing import Any

import torch
from verl.trainer.ppo.core_algos import register_adv_est

from verl_pixel.constants import PRECOMPUTED_ADV_ESTIMATOR


@register_adv_est(PRECOMPUTED_ADV_ESTIMATOR)
def compute_precomputed_advantage(
    token_level_rewards: torch.Tensor, response_mask: torch.Tensor, **_: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages = the per-trajectory score (summed over tokens, as verl's outcome estimators do) on every token.

    Args:
        token_level_rewards: ``(batch, response_length)``, the buffer's advantage at the last response token.
        response_mask: ``(batch, response_length)``.

    Returns:
        ``(advantages, returns)``, equal.
    """
    scores = token_level_rewards.sum(dim=-1, keepdim=True)
    advantages = scores * response_mask
    return advantages, advantages
