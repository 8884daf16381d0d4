"""The reward core: answer scoring, format score, group shaping and step metrics (METHOD.md §3, §6).

Pure Python and numpy; nothing here imports verl. The verl side calls three things:

- per trajectory (reward manager): :func:`score_trajectory` -> :class:`TrajectoryScore`
  (``to_extra_info()`` gives the ``pixel/acc`` / ``pixel/fmt`` keys for ``reward_extra_info``);
- per prompt group (replay buffer): :func:`shape_group` over :class:`ScoredRollout` s
  (``ScoredRollout.from_extra_fields``) -> :class:`GroupShaping`; many groups at once: :func:`shape_columns`;
- per step: :func:`step_metrics` over the step's :class:`GroupShaping` s -> ``{"pixel/...": float}``.

All constants live in :class:`ShapingConfig` (``ShapingConfig.from_mapping`` for Hydra dicts).
"""

from verl_pixel.reward.answer import AnswerSource, ExtractedAnswer, extract_final_answer
from verl_pixel.reward.batch_shaping import RolloutColumns, ShapedColumns, shape_columns
from verl_pixel.reward.config import (
    AlignmentTable,
    CuriosityConfig,
    DeepEyesConfig,
    FormatConfig,
    LookLessConfig,
    RedundancyConfig,
    ShapingConfig,
)
from verl_pixel.reward.ground_truth import AnswerType, GroundTruth, parse_ground_truth
from verl_pixel.reward.metrics import step_metrics
from verl_pixel.reward.scoring import TrajectoryScore, format_score, score_answer, score_response, score_trajectory
from verl_pixel.reward.shaped_reward import GroupInfo, GroupShaping, ScoredRollout, ShapedReward
from verl_pixel.reward.shaping import shape_group

__all__ = [
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
    "LookLessConfig",
    "RedundancyConfig",
    "RolloutColumns",
    "ScoredRollout",
    "ShapedColumns",
    "ShapedReward",
    "ShapingConfig",
    "TrajectoryScore",
    "extract_final_answer",
    "format_score",
    "parse_ground_truth",
    "score_answer",
    "score_response",
    "score_trajectory",
    "shape_columns",
    "shape_group",
    "step_metrics",
]
