"""ANLS, the Average Normalized Levenshtein Similarity of ST-VQA, DocVQA and InfographicVQA.

Reference: Biten et al., "Scene Text Visual Question Answering", ICCV 2019 (ST-VQA), Eq. 1, as computed by the
official DocVQA / InfographicVQA evaluation (Mathew et al., WACV 2021 / 2022; the RRC script, also
``QwenLM/Qwen-VL:eval_mm/infographicsvqa_eval.py``): both strings are lower-cased and their whitespace collapsed,
``NL`` is the Levenshtein distance divided by the longer length, and

    s(gt, pred) = 1 - NL(gt, pred),   set to 0 when it is below tau = 0.5,

with the score of a question the maximum of ``s`` over its ground-truth answers. (The benchmark's ANLS is the
mean over questions; that averaging belongs to the evaluation.) One detail follows the script, not the paper:
the boundary ``NL = tau`` keeps its 0.5 (the paper zeroes ``NL >= tau``). One detail does not: the script
divides by the *raw* lengths, we by the normalized ones (rapidfuzz's normalized distance); they differ only for
answers with leading, trailing or repeated whitespace.

For a "correct" threshold on this score: a non-zero score is always >= 0.5, so ``score >= 0.5`` means
"within the ANLS threshold".
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

ANLS_THRESHOLD = 0.5


def anls_score(prediction: str, answers: Sequence[str], threshold: float = ANLS_THRESHOLD) -> float:
    """Score one prediction against a question's acceptable answers.

    Args:
        prediction: the extracted answer span (an empty one scores 0: it is no answer, not an empty answer).
        answers: the ground-truth answers.
        threshold: tau; a similarity below it scores 0.

    Returns:
        The best similarity over the answers, in [0, 1].
    """
    predicted = _normalize(prediction)
    if not predicted:
        return 0.0
    best = 0.0
    for answer in answers:
        # score_cutoff lets rapidfuzz stop early (and answer 1.0) once the distance exceeds 1 - tau, so a huge
        # prediction against a short answer costs almost nothing.
        distance = Levenshtein.normalized_distance(_normalize(answer), predicted, score_cutoff=1.0 - threshold)
        similarity = 1.0 - distance
        if similarity >= threshold:
            best = max(best, similarity)
    return best


def _normalize(text: str) -> str:
    """The DocVQA evaluation's normalization: lower case, whitespace collapsed."""
    return " ".join(text.lower().split())
