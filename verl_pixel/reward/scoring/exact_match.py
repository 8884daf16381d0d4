r"""Pixel Reasoner's exact match: how it scores every benchmark, InfographicVQA included (pure).

Pixel Reasoner has no ANLS: ``rule_reward`` in TIGER-AI-Lab/Pixel-Reasoner (a3a6c3a)
``curiosity_driven_rl/openrlhf/trainer/ppo_utils/experience_maker.py`` lines 908-970 scores all four of its
benchmarks, so its InfoVQA number is this exact match, not the ANLS the benchmark defines. Per ground truth:

* the ground truths are lower-cased, and a ``%``-free copy of a percentage is tried first (lines 936-944);
* ``normalize_answer`` (lines 806-817) removes ``\text``, ``minutes`` and ``cm`` and reads ``\dfrac`` as ``\frac``;
* the prediction's last ``\boxed{}`` is compared with math-verify (``do_verify``): here :func:`score_math`, which is
  math-verify when it is installed and a normalized string / number match otherwise;
* a ground truth with a comma also counts when each of its comma-separated spans occurs in the boxed text (lines
  955-968; the code searches from the last ``boxed`` to the end, here the boxed answer). The code cuts the spans
  from ``ans[len("\\boxed{"):-1]``, i.e. the ground truth without its first 7 and last characters (it was written
  for a boxed string); that cut is kept, so the scores agree with its reports.
"""

from __future__ import annotations

from collections.abc import Sequence

from verl_pixel.reward.scoring.ground_truth import AnswerType, GroundTruth
from verl_pixel.reward.scoring.math_answer import score_math

_BOXED_PREFIX_LENGTH = len("\\boxed{")
EXACT_MATCH = "exact_match"  # the name of this score beside a benchmark's own metric


def pixel_reasoner_normalize(text: str) -> str:
    r"""Pixel Reasoner's ``normalize_answer``: ``\dfrac`` -> ``\frac``; ``\text``, ``minutes``, ``cm`` removed."""
    text = text.replace("dfrac", "frac").replace("\\text", "")
    text = text.replace("\\varnothing", "\\emptyset")
    return text.replace("minutes", "").replace("cm", "")


def ground_truth_variants(answers: Sequence[str]) -> list[str]:
    """The lower-cased ground truths, a percentage's ``%``-free copy first (``rule_reward``)."""
    golds = [answer.lower() for answer in answers]
    percent = next((gold for gold in golds if "%" in gold), None)
    if percent is not None and percent.replace("%", "") not in golds:
        golds.insert(0, percent.replace("%", ""))
    return golds


def pixel_reasoner_exact_match(answer: str, answers: Sequence[str]) -> float:
    """1.0 if the extracted answer matches a ground truth under Pixel Reasoner's rule (module docstring), else 0.0."""
    prediction = pixel_reasoner_normalize(answer.lower()).strip()
    if not prediction:
        return 0.0
    for gold in ground_truth_variants(answers):
        if score_math(prediction, [pixel_reasoner_normalize(gold)]) == 1.0:
            return 1.0
        if "," in gold:
            spans = [span.strip() for span in gold[_BOXED_PREFIX_LENGTH:-1].split(",")]
            if all(span in prediction for span in spans):
                return 1.0
    return 0.0


def secondary_scores(answer: str, ground_truth: GroundTruth) -> dict[str, float]:
    """Scores reported beside ``r_acc``: for an ANLS question, Pixel Reasoner's exact match (what its reports use)."""
    if ground_truth.answer_type is AnswerType.ANLS:
        return {EXACT_MATCH: pixel_reasoner_exact_match(answer, ground_truth.answers)}
    return {}
