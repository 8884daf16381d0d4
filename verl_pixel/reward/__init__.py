"""The reward: answer scoring, group shaping, and the verl adapters that carry them to the loss.

Three rooms, one job each:

- :mod:`verl_pixel.reward.scoring` (pure): ``r_acc`` and ``r_fmt`` of one response against its ground truth;
- :mod:`verl_pixel.reward.shaping` (pure): one prompt group's scored rollouts -> shaped rewards, advantage groups
  and step metrics (curiosity, Look Less, DeepEyes, HDPO, AdaTooler-V, none; ``ignore_exceed``), and the
  necessity memory that plans Look Less' probes;
- :mod:`verl_pixel.reward.adapters` (verl): the ``pixel`` reward manager, the V1 replay buffer, the
  ``pixel_precomputed`` advantage estimator and the memory's link to the training dataset.

Every constant lives in :class:`~verl_pixel.reward.config.ShapingConfig` (the ``pixel.reward`` section) and
:class:`~verl_pixel.reward.probing_config.ProbingConfig` (``pixel.probing``).

The path of one reward, from the trajectory record to the loss (read this first)
---------------------------------------------------------------------------------

1. **Record.** ``pixel_agent`` writes the rollout's :class:`~verl_pixel.record.TrajectoryRecord` (mode, operations,
   answer text, stop reason) into ``AgentLoopOutput.extra_fields`` (``pixel/*`` keys).
2. **Score** (one trajectory). verl's ``RewardLoopWorker`` calls the ``pixel`` manager's ``run_single``
   (:mod:`~verl_pixel.reward.adapters.manager`), which calls
   :func:`~verl_pixel.reward.scoring.trajectory_score.score_trajectory` and returns the method-neutral
   ``r_acc + w_fmt * r_fmt`` as ``reward_score`` plus ``pixel/acc``, ``pixel/fmt`` and the record in
   ``reward_extra_info``. verl stores both with the trajectory in TransferQueue (``rm_scores`` at the last
   response token).
3. **Group shaping** (all n rollouts of one prompt). When a prompt group finishes, the V1 replay buffer
   (:mod:`~verl_pixel.reward.adapters.replay_buffer`, ``trainer.v1.sampler.custom_sampler``) reads its
   trajectories back and calls :func:`~verl_pixel.reward.shaping.group_step.shape_stored_groups`, which builds the
   group's context from the row's ``extra_info`` (with ``pixel.probing``: the necessity memory takes the group's
   evidence and answers need(x); AdaTooler-V's Delta S; the need label) and calls
   :func:`~verl_pixel.reward.shaping.group.shape_group` with the method's rule. Shaping reads only the raw scores,
   so shaping a group twice writes the same values (the memory, though, is fed once per group: the buffer shapes
   each group once).
4. **uid regrouping.** The buffer writes the shaped total into ``rm_scores[-1]`` and rewrites ``uid`` to
   ``uid/<advantage_group>`` (Look Less probes in their own group) or ``uid/frozen`` (rollouts that must not
   train; their ``response_mask`` / ``loss_mask`` are zeroed).
5. **Advantages.** verl's DAPO filter (if enabled) and selection run on the shaped ``rm_scores``; verl's GRPO then
   normalises per ``uid`` — so per (prompt, advantage group) — and the policy loss takes it from there. HDPO writes
   finished advantages instead, which ``algorithm.adv_estimator=pixel_precomputed`` hands through unchanged.
   ``sample`` returns :func:`~verl_pixel.reward.shaping.metrics.step_metrics` (``pixel/...``), logged by verl
   with the step.
"""

from verl_pixel.reward.config import (
    AdaToolerConfig,
    AlignmentTable,
    CuriosityConfig,
    DeepEyesConfig,
    FormatConfig,
    HdpoConfig,
    LookLessConfig,
    RedundancyConfig,
    ShapingConfig,
)
from verl_pixel.reward.scoring.answer import AnswerSource, ExtractedAnswer, extract_final_answer
from verl_pixel.reward.scoring.ground_truth import AnswerType, GroundTruth, parse_ground_truth
from verl_pixel.reward.scoring.trajectory_score import (
    TrajectoryScore,
    format_score,
    score_answer,
    score_response,
    score_trajectory,
)
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.metrics import step_metrics
from verl_pixel.reward.shaping.shaped_reward import GroupInfo, GroupShaping, ScoredRollout, ShapedReward

__all__ = [
    "AdaToolerConfig",
    "AlignmentTable",
    "AnswerSource",
    "AnswerType",
    "CuriosityConfig",
    "DeepEyesConfig",
    "ExtractedAnswer",
    "FormatConfig",
    "GroundTruth",
    "GroupInfo",
    "GroupShaping",
    "HdpoConfig",
    "LookLessConfig",
    "RedundancyConfig",
    "ScoredRollout",
    "ShapedReward",
    "ShapingConfig",
    "TrajectoryScore",
    "extract_final_answer",
    "format_score",
    "parse_ground_truth",
    "score_answer",
    "score_response",
    "score_trajectory",
    "shape_group",
    "step_metrics",
]
