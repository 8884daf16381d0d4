r"""The typed ground truth of one dataset row, and its parsing from the row's plain-dict form.

A row stores its ground truth as a mapping (or a JSON object string of one)::

    {"answer": "B", "answer_type": "multiple_choice", "options": ["red", "blue", "green", "white"]}
    {"answer": 3, "answer_type": "number"}
    {"answers": ["Paris", "paris, france"], "answer_type": "short_text"}
    {"answer": "42.7%", "answers": ["42.7 %"], "answer_type": "anls"}
    {"answer": "\\frac{1}{2}", "answer_type": "math"}

``answer`` (one value) and ``answers`` (a list of acceptable values) may both be given; they are merged.
Which type each benchmark uses (METHOD.md §7):

=====================  ===================  ==========================================================
benchmark              ``answer_type``      metric
=====================  ===================  ==========================================================
V* Bench               ``multiple_choice``  accuracy
HR-Bench 4K / 8K       ``multiple_choice``  accuracy
MME-RealWorld(-Lite)   ``multiple_choice``  accuracy
MVBench                ``multiple_choice``  accuracy
TallyQA                ``number``           exact match of the count
InfographicVQA/DocVQA  ``anls``             ANLS, tau = 0.5
open VQA answers       ``short_text``       VQA-normalized exact match
math data              ``math``             math-verify equivalence when installed
=====================  ===================  ==========================================================

Ground truth comes from our own data preparation, so a malformed one is a bug to surface: parsing raises
``ValueError`` naming the field. (Malformed *model output*, by contrast, only ever scores 0.)
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.plain_values import to_plain
from verl_pixel.reward.scoring.choice import letter_index
from verl_pixel.reward.scoring.number import read_number
from verl_pixel.reward.scoring.text_normalization import normalize_vqa

_GT_LETTER = re.compile(r"^\s*\(?([A-Za-z])\)?\s*[.):]?\s*$")
_OPTION_LABEL = re.compile(r"^\s*(?:\(([A-Z])\)|([A-Z])\s*[.):])\s*")


class AnswerType(str, Enum):
    """How a row's answer is scored."""

    MULTIPLE_CHOICE = "multiple_choice"
    NUMBER = "number"
    SHORT_TEXT = "short_text"
    ANLS = "anls"
    MATH = "math"


@dataclasses.dataclass(frozen=True)
class GroundTruth:
    """What a correct answer to one row looks like.

    Attributes:
        answer_type: which scorer applies.
        answers: the acceptable answers as text (at least one, none blank).
        options: multiple choice only: the option texts in letter order, labels such as ``(A)`` stripped.
        correct_option: multiple choice only: the 0-based index of the correct option.
    """

    answer_type: AnswerType
    answers: tuple[str, ...]
    options: tuple[str, ...] = ()
    correct_option: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.answer_type, AnswerType):
            raise ValueError(f"ground truth field 'answer_type': expected an AnswerType, got {self.answer_type!r}")
        if not self.answers or any(not isinstance(a, str) or not a.strip() for a in self.answers):
            raise ValueError(f"ground truth field 'answers': need at least one non-blank string, got {self.answers!r}")
        if self.answer_type is AnswerType.MULTIPLE_CHOICE:
            if not 2 <= len(self.options) <= len(OPTION_LETTERS):
                raise ValueError(f"ground truth field 'options': need 2..26 options, got {len(self.options)}")
            if self.correct_option is None or not 0 <= self.correct_option < len(self.options):
                raise ValueError(f"ground truth field 'answer': correct option {self.correct_option!r} out of range")
        elif self.options or self.correct_option is not None:
            raise ValueError(
                f"ground truth field 'options': only multiple_choice has options, not {self.answer_type.value}"
            )
        if self.answer_type is AnswerType.NUMBER:
            for answer in self.answers:
                if read_number(answer) is None:
                    raise ValueError(f"ground truth field 'answer': {answer!r} is not a single number")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> GroundTruth:
        """Parse the plain-dict form (see the module docstring).

        Raises:
            ValueError: naming the offending field, for a missing or malformed field.
        """
        answer_type = _parse_answer_type(data.get("answer_type"))
        answers = _parse_answers(data)
        if answer_type is not AnswerType.MULTIPLE_CHOICE:
            if data.get("options"):
                raise ValueError(
                    f"ground truth field 'options': only multiple_choice has options, not {answer_type.value}"
                )
            return cls(answer_type, answers)
        options = _parse_options(data.get("options"))
        return cls(answer_type, answers, options, _resolve_correct_option(answers, options))


def parse_ground_truth(value: GroundTruth | Mapping[str, Any] | str) -> GroundTruth:
    """Accept a :class:`GroundTruth`, its dict form, or a JSON object string of the dict form.

    Raises:
        ValueError: if the value is none of those or a field is malformed.
    """
    if isinstance(value, GroundTruth):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"ground truth: a string must be a JSON object, got {value[:80]!r}") from err
    if not isinstance(value, Mapping):
        raise ValueError(f"ground truth: expected a mapping with 'answer_type', got {type(value).__name__}")
    return GroundTruth.from_mapping(value)


def row_ground_truth(reward_model: Any) -> GroundTruth:
    """Parse ``reward_model.ground_truth``: the ground-truth mapping / JSON object, or a plain answer (short text).

    Raises:
        ValueError: if the row has no ground truth or it is malformed.
    """
    reward_model = to_plain(reward_model)
    if not isinstance(reward_model, Mapping) or reward_model.get("ground_truth") is None:
        raise ValueError(f"pixel reward: the row's reward_model has no ground_truth: {reward_model!r:.200}")
    truth = reward_model["ground_truth"]
    if isinstance(truth, Mapping) or (isinstance(truth, str) and truth.lstrip().startswith("{")):
        return parse_ground_truth(truth)
    return GroundTruth.from_mapping({"answer": truth, "answer_type": "short_text"})


def _parse_answer_type(value: Any) -> AnswerType:
    try:
        return AnswerType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in AnswerType)
        raise ValueError(f"ground truth field 'answer_type': {value!r} is not one of {allowed}") from None


def _parse_answers(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Merge ``answer`` and ``answers`` into a de-duplicated tuple of strings."""
    merged: list[str] = []
    for field in ("answer", "answers"):
        value = data.get(field)
        if value is None:
            continue
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise ValueError(f"ground truth field {field!r}: expected text or numbers, got {item!r}")
            text = item if isinstance(item, str) else _format_number(item)
            if not text.strip():
                raise ValueError(f"ground truth field {field!r}: blank answer")
            if text not in merged:
                merged.append(text)
    if not merged:
        raise ValueError("ground truth field 'answer': missing (give 'answer' or a non-empty 'answers' list)")
    return tuple(merged)


def _format_number(value: float) -> str:
    """Write 3.0 as "3" so a numeric ground truth reads like its text form."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _parse_options(value: Any) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(f"ground truth field 'options': expected a list of option texts, got {value!r}")
    options = []
    for position, option in enumerate(value):
        if isinstance(option, bool) or not isinstance(option, (str, int, float)):
            raise ValueError(f"ground truth field 'options': option {position} is {option!r}, not text")
        options.append(_strip_option_label(str(option), position))
    if not 2 <= len(options) <= len(OPTION_LETTERS):
        raise ValueError(f"ground truth field 'options': need 2..26 options, got {len(options)}")
    return tuple(options)


def _strip_option_label(option: str, position: int) -> str:
    """Drop a leading ``(A)`` / ``A.`` / ``A)`` label when it is this option's own letter."""
    match = _OPTION_LABEL.match(option)
    if match and position < len(OPTION_LETTERS) and (match.group(1) or match.group(2)) == OPTION_LETTERS[position]:
        return option[match.end() :].strip() or option.strip()
    return option.strip()


def _resolve_correct_option(answers: tuple[str, ...], options: tuple[str, ...]) -> int:
    """Find the option every given answer designates (a letter or an option's text)."""
    resolved: set[int] = set()
    for answer in answers:
        letter = _GT_LETTER.match(answer)
        index = letter_index(letter.group(1), len(options)) if letter else None
        if index is None:
            named = [i for i, option in enumerate(options) if normalize_vqa(option) == normalize_vqa(answer)]
            index = named[0] if len(named) == 1 else None
        if index is None:
            raise ValueError(
                f"ground truth field 'answer': {answer!r} is neither an option letter nor one option's text"
            )
        resolved.add(index)
    if len(resolved) != 1:
        raise ValueError(f"ground truth field 'answer': the answers {answers!r} designate different options")
    return resolved.pop()
