"""Short open-text answers: VQA-normalized exact match, with multi-span answers.

Normalization is the official VQA evaluation script's (see :func:`normalize_vqa`). The VQA *accuracy*
``min(#humans agreeing / 3, 1)`` needs the ten raw human answers; our rows store the acceptable answers instead,
so an answer scores 1 when it matches any of them and 0 otherwise.

Multi-span answers: a ground truth with several comma- or semicolon-separated spans (``"red, white, blue"``)
also matches a prediction that lists the same spans in any order (``"blue, red and white"``); every span must be
there and nothing else. This is stricter than Pixel Reasoner's released check (every ground-truth span
*contained* in the prediction), which a prediction listing everything would pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from verl_pixel.reward.scoring.text_normalization import normalize_vqa

# Commas between digits are thousands separators ("1,000"), not span separators.
_SPAN_SEPARATOR = re.compile(r"(?<!\d),|,(?!\d)|;")
_FINAL_CONJUNCTION = re.compile(r"^(?:and|or|&)\s+")
_AND = re.compile(r"\s+(?:and|&)\s+")
# A reordering of the ground truth's spans, joined by ", " or " and ", is at most about this long.
_MAX_SPAN_LENGTH_FACTOR = 2
_SPAN_LENGTH_SLACK = 16


def score_short_text(prediction: str, answers: Sequence[str]) -> float:
    """Return 1.0 if the prediction matches one of the acceptable answers, else 0.0."""
    whole = normalize_vqa(prediction)
    if not whole:
        return 0.0
    for answer in answers:
        if normalize_vqa(answer) == whole:
            return 1.0
        if len(prediction) > _MAX_SPAN_LENGTH_FACTOR * len(answer) + _SPAN_LENGTH_SLACK:
            continue  # too long to be a reordering of these spans; skip splitting a runaway answer
        spans = _spans(answer)
        if len(spans) > 1 and any(candidate == spans for candidate in _prediction_span_sets(prediction)):
            return 1.0
    return 0.0


def _spans(text: str) -> frozenset[str]:
    """Split on separators, drop a leading "and"/"or", normalize each span; empty spans are dropped."""
    spans = (_FINAL_CONJUNCTION.sub("", part.strip()) for part in _SPAN_SEPARATOR.split(text))
    return frozenset(span for span in (normalize_vqa(s) for s in spans) if span)


def _prediction_span_sets(prediction: str) -> tuple[frozenset[str], ...]:
    """The prediction read as a list with and without splitting on "and" ("red and blue" vs "salt and pepper")."""
    return _spans(prediction), _spans(_AND.sub(", ", prediction))
