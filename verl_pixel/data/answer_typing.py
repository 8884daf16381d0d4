"""Typing a peer's plain answer for our scorers: multiple choice, number, math or short text (pure).

Pixel Reasoner's and DeepEyes' RL data give the answer as plain text (or a list of acceptable texts) next to a
question that may list options inline; our reward needs the ground-truth mapping of
:mod:`verl_pixel.reward.scoring.ground_truth`. The rules, in order:

1. **multiple choice**: every answer is one option letter (``B``, ``(B)``, ``B.``, ``B:``) and the question lists
   at least two options on their own lines, labelled from ``A`` on (``A: Lion``, ``(A) Lion``, ``A. Lion``; the
   ``choices:`` layout of Pixel Reasoner's prompts, ``experience_maker.py`` line 2753);
2. **number**: every answer is a plain number (``3``, ``1,000``, ``2.5``, ``40%``);
3. **math**: an answer holds LaTeX (a backslash), which math-verify reads as Pixel Reasoner's ``rule_reward`` does;
4. **short text** otherwise (VQA-normalized exact match, multi-span answers included).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.reward.scoring.ground_truth import GroundTruth

_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])\s*[).:]\s*(\S.*?)\s*$")
_LETTER_ANSWER = re.compile(r"^\s*\(?([A-Z])\)?\s*[.:]?\s*$")
_PLAIN_NUMBER = re.compile(r"^\s*-?\d{1,3}(?:,\d{3})*(?:\.\d+)?\s*%?\s*$|^\s*-?\d+(?:\.\d+)?\s*%?\s*$")


def answer_list(value: Any) -> list[str]:
    """The acceptable answers of a field that is text or a list of texts / numbers (blank ones dropped).

    Raises:
        ValueError: if nothing is left.
    """
    items = list(value) if isinstance(value, (list, tuple)) or hasattr(value, "tolist") else [value]
    answers = [str(item).strip() for item in items if item is not None and str(item).strip()]
    if not answers:
        raise ValueError(f"expected a non-empty answer, got {value!r}")
    return answers


def options_in_question(question: str) -> tuple[str, ...]:
    """The options a question lists on its own lines, labelled ``A``, ``B``, ... in order (``()`` if fewer than 2)."""
    options: list[str] = []
    for line in question.splitlines():
        match = _OPTION_LINE.match(line)
        if match and len(options) < len(OPTION_LETTERS) and match.group(1) == OPTION_LETTERS[len(options)]:
            options.append(match.group(2))
        elif match and match.group(1) == "A":
            options = [match.group(2)]  # a second list starts: keep the last one
    return tuple(options) if len(options) >= 2 else ()


def typed_ground_truth(question: str, answers: Sequence[str]) -> dict[str, Any]:
    """The reward's ground-truth mapping of a question and its plain answers (rules in the module docstring).

    Raises:
        ValueError: if the answers are empty or the result does not validate.
    """
    answers = answer_list(list(answers))
    options = options_in_question(question)
    if options:
        letters = [_LETTER_ANSWER.match(answer) for answer in answers]
        named = [match.group(1) if match else answer for match, answer in zip(letters, answers, strict=True)]
        truth = {"answer": named[0], "answers": named, "answer_type": "multiple_choice", "options": list(options)}
        try:
            GroundTruth.from_mapping(truth)  # every answer names one and the same option (letter or text)
            return truth
        except ValueError:
            pass  # the listed lines are not this answer's options: type the answer on its own
    if all(_PLAIN_NUMBER.match(answer) for answer in answers):
        kind = "number"
    elif any("\\" in answer for answer in answers):
        kind = "math"
    else:
        kind = "short_text"
    truth = {"answer": answers[0], "answers": answers, "answer_type": kind, "options": []}
    GroundTruth.from_mapping(truth)
    return truth
