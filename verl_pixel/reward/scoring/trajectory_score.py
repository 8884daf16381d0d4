"""Per-trajectory scoring: accuracy ``r_acc`` and format ``r_fmt`` of one rollout (METHOD.md §3).

This is what the verl reward manager calls once per trajectory (``run_single``)::

    score = score_trajectory(record, row_ground_truth, config.format)
    reward_extra_info.update(score.to_extra_info())   # "pixel/acc", "pixel/fmt", "pixel/answer_source"

The group stage later reads those keys back with :meth:`ScoredRollout.from_extra_fields
<verl_pixel.reward.shaping.shaped_reward.ScoredRollout.from_extra_fields>`.

Contract: a malformed *model output* never raises, it scores 0; a malformed *ground truth* raises ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from verl_pixel.record import EXTRA_FIELD_PREFIX, TrajectoryRecord
from verl_pixel.reward.config import FormatConfig
from verl_pixel.reward.scoring.anls import anls_score
from verl_pixel.reward.scoring.answer import AnswerSource, ExtractedAnswer, extract_final_answer
from verl_pixel.reward.scoring.choice import read_choice
from verl_pixel.reward.scoring.format_rules import deepeyes_format
from verl_pixel.reward.scoring.ground_truth import AnswerType, GroundTruth, parse_ground_truth
from verl_pixel.reward.scoring.math_answer import score_math
from verl_pixel.reward.scoring.number import read_number
from verl_pixel.reward.scoring.text_match import score_short_text
from verl_pixel.reward.scoring.text_normalization import clean_answer_text

logger = logging.getLogger(__name__)

ACC_KEY = EXTRA_FIELD_PREFIX + "acc"
FMT_KEY = EXTRA_FIELD_PREFIX + "fmt"
ANSWER_SOURCE_KEY = EXTRA_FIELD_PREFIX + "answer_source"
ANSWER_MARKED_KEY = EXTRA_FIELD_PREFIX + "answer_marked"


@dataclasses.dataclass(frozen=True)
class TrajectoryScore:
    """The per-trajectory part of the reward.

    Attributes:
        acc: ``r_acc`` in [0, 1].
        fmt: ``r_fmt``: -1.0 for a format error, else 0.0.
        answer: the extracted answer span ("" when none).
        answer_source: where the answer was found.
    """

    acc: float
    fmt: float
    answer: str
    answer_source: AnswerSource

    def to_extra_info(self) -> dict[str, Any]:
        """Plain scalars for verl's ``reward_extra_info`` (read back by ``ScoredRollout.from_extra_fields``)."""
        marked = ExtractedAnswer(self.answer, self.answer_source).is_explicit
        return {
            ACC_KEY: self.acc,
            FMT_KEY: self.fmt,
            ANSWER_SOURCE_KEY: self.answer_source.value,
            ANSWER_MARKED_KEY: marked,
        }


def score_answer(answer: str, ground_truth: GroundTruth) -> float:
    """Score an extracted answer span against the ground truth, by the ground truth's answer type.

    Args:
        answer: the answer span as extracted (``ExtractedAnswer.text``).
        ground_truth: the row's parsed ground truth.

    Returns:
        ``r_acc`` in [0, 1]: 0 or 1, except ANLS which gives partial credit.
    """
    kind = ground_truth.answer_type
    if kind is AnswerType.MATH:
        return score_math(answer, ground_truth.answers)  # LaTeX kept for the math parser
    cleaned = clean_answer_text(answer)
    if not cleaned:
        return 0.0
    if kind is AnswerType.MULTIPLE_CHOICE:
        return 1.0 if read_choice(cleaned, ground_truth.options) == ground_truth.correct_option else 0.0
    if kind is AnswerType.NUMBER:
        predicted = read_number(cleaned)
        return 1.0 if predicted is not None and any(predicted == read_number(a) for a in ground_truth.answers) else 0.0
    if kind is AnswerType.ANLS:
        return anls_score(cleaned, ground_truth.answers)
    return score_short_text(cleaned, ground_truth.answers)


def score_response(response: str | None, ground_truth: GroundTruth) -> tuple[float, ExtractedAnswer]:
    """Extract the final answer of a response and score it; never raises on any response.

    Args:
        response: the final assistant text; ``None`` or any non-text value is no answer (scores 0).
        ground_truth: the row's parsed ground truth.

    Returns:
        ``(r_acc, extracted answer)``.
    """
    extracted = extract_final_answer(response if isinstance(response, str) else "")
    try:
        return score_answer(extracted.text, ground_truth), extracted
    except Exception:  # a scorer bug must cost one rollout's reward, not the training step; tests hunt such bugs
        logger.exception("answer scorer failed on %r; scoring 0", extracted.text[:200])
        return 0.0, extracted


def format_score(record: TrajectoryRecord, extracted: ExtractedAnswer, config: FormatConfig) -> float:
    r"""``r_fmt``: -1.0 if the rollout made a format error, else 0.0 (DeepEyes' convention).

    Format errors: an operation answered with an error message (``ops_failed > 0``), when
    ``config.penalize_failed_ops``; no non-empty ``\boxed{}`` / ``<answer>``, when ``config.require_explicit_answer``;
    with ``config.rule == "deepeyes"`` DeepEyes' checks instead (:mod:`verl_pixel.reward.scoring.format_rules`).
    """
    if config.rule == "deepeyes":
        return -1.0 if deepeyes_format(record.answer_text).error else 0.0
    failed_ops = config.penalize_failed_ops and record.ops_failed > 0
    missing_answer = config.require_explicit_answer and not extracted.is_explicit
    return -1.0 if failed_ops or missing_answer else 0.0


def score_trajectory(
    record: TrajectoryRecord,
    ground_truth: GroundTruth | Mapping[str, Any] | str,
    config: FormatConfig | None = None,
) -> TrajectoryScore:
    """Score one rollout: accuracy of the answer in ``record.answer_text`` and the format score.

    Args:
        record: the rollout's trajectory record (its ``answer_text`` is the final assistant message).
        ground_truth: the row's ground truth, parsed or in dict / JSON form.
        config: the format settings (``ShapingConfig.format``); defaults to METHOD's.

    Raises:
        ValueError: if the ground truth is malformed (never because of the model's output).
    """
    truth = parse_ground_truth(ground_truth)
    config = config or FormatConfig()
    acc, extracted = score_response(record.answer_text, truth)
    if config.rule == "deepeyes" and deepeyes_format(record.answer_text).answer_too_long:
        acc = 0.0  # DeepEyes zeroes an answer of 1000+ characters
    fmt = format_score(record, extracted, config)
    return TrajectoryScore(acc=acc, fmt=fmt, answer=extracted.text, answer_source=extracted.source)
