"""Math answers: equivalence by math-verify when it is installed, else a normalized string / numeric match.

math-verify (Hugging Face, ``pip install math-verify``) parses both sides to SymPy and checks equivalence; it is
what Pixel Reasoner's released reward uses. It is optional here: when the package cannot be imported we log one
warning and fall back to :func:`normalize_math` equality plus plain numeric equality.

math-verify bounds its own run time with ``signal.alarm``, which only works in a process's main thread; in any
other thread we call it with its timeouts disabled and bound the cost instead by refusing answers longer than
:data:`MAX_MATH_ANSWER_CHARS` (those fall back to the string match).
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
import threading
from collections.abc import Sequence
from types import ModuleType

from verl_pixel.reward.scoring.number import read_number
from verl_pixel.reward.scoring.text_normalization import clean_answer_text

logger = logging.getLogger(__name__)

MAX_MATH_ANSWER_CHARS = 1000
_DEFAULT_TIMEOUT_S = 5

_LATEX_NOISE = re.compile(r"\\left|\\right|\\displaystyle|\^\{?\\circ\}?|\\%|%|\s+")
_FRAC_VARIANT = re.compile(r"\\[dt]frac")


@functools.cache
def _math_verify() -> ModuleType | None:
    """Import math-verify once; warn once when it is missing."""
    try:
        return importlib.import_module("math_verify")
    except ImportError:
        logger.warning("math-verify is not installed: math answers fall back to normalized string/number matching")
        return None


def score_math(prediction: str, answers: Sequence[str]) -> float:
    r"""Return 1.0 if the prediction is equivalent to one of the answers, else 0.0.

    Args:
        prediction: the extracted answer span, LaTeX kept.
        answers: the ground-truth answers (LaTeX without ``\boxed``).
    """
    if not prediction.strip():
        return 0.0
    module = _math_verify()
    if module is not None and len(prediction) <= MAX_MATH_ANSWER_CHARS:
        verdict = _verify_with_math_verify(module, prediction, answers)
        if verdict is not None:
            return verdict
    return 1.0 if any(_fallback_match(prediction, answer) for answer in answers) else 0.0


def normalize_math(text: str) -> str:
    r"""Normalize a LaTeX answer for string comparison: no spacing, sizing, degree or percent marks, ``\frac`` only."""
    out = clean_answer_text(text)
    out = _FRAC_VARIANT.sub(r"\\frac", out)
    out = _LATEX_NOISE.sub("", out)
    return out.rstrip(".").lower()


def _fallback_match(prediction: str, answer: str) -> bool:
    if normalize_math(prediction) == normalize_math(answer):
        return True
    predicted, expected = read_number(normalize_math(prediction)), read_number(normalize_math(answer))
    return predicted is not None and predicted == expected and _is_plain_number(prediction)


def _is_plain_number(text: str) -> bool:
    """Numeric fallback only for answers that are just a number, so "x=2, y=3" does not match 2 or 3 by accident."""
    return re.fullmatch(r"-?[\d,]*\.?\d+", normalize_math(text)) is not None


def _verify_with_math_verify(module: ModuleType, prediction: str, answers: Sequence[str]) -> float | None:
    """Run math-verify; None when it fails, so the caller falls back to the string match."""
    timeout = _DEFAULT_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
    try:
        # Both sides boxed: math-verify's LaTeX extraction then reads exactly the answer span.
        predicted = module.parse("\\boxed{" + prediction + "}", parsing_timeout=timeout)
        for answer in answers:
            gold = module.parse("\\boxed{" + answer + "}", parsing_timeout=timeout)
            if gold and predicted and module.verify(gold, predicted, timeout_seconds=timeout):
                return 1.0
        return 0.0
    except Exception:  # math-verify raises a zoo of SymPy errors and its own timeouts; none may reach the reward
        logger.debug("math-verify failed on %r; using the string match", prediction[:200], exc_info=True)
        return None
